"""A real judge server for tests: llama.cpp's llama-server and its tiny
model from ../shared/llama (next to the project root; RAGRADE_LLAMA_DIR
overrides it), started on a free loopback port with the options of that
directory's README, ready once GET /health answers 200, stopped with the
test. One instance can serve chat and embeddings, or two instances serve
them apart (a chat-only one and an embedding one), as vLLM and llama.cpp
deployments usually run."""
import http.client
import json
import os
import signal
import subprocess
import tempfile

from harness import SRCDIR, free_port, wait_for

LLAMA_DIR = os.environ.get("RAGRADE_LLAMA_DIR") or os.path.join(os.path.dirname(SRCDIR), "shared", "llama")
BIN = os.path.join(LLAMA_DIR, "llama-server")
MODEL = os.path.join(LLAMA_DIR, "tiny-words.gguf")


def missing():
    """Why the server cannot run here (a message for a skip), or None."""
    if not os.access(BIN, os.X_OK):
        return f"no llama-server at {BIN} (set RAGRADE_LLAMA_DIR to the directory that holds it)"
    if not os.path.isfile(MODEL):
        return f"no model at {MODEL}"
    return None


class LlamaServer:
    """One llama-server process. chat: it serves /v1/chat/completions (the
    model always does); embeddings: --embeddings --pooling mean, as the
    README says embedding instances need. extra: more options (-b, -ub,
    -n ...), after the defaults so that they win."""

    def __init__(self, alias="judge", embeddings=True, extra=(), ctx=8192, slots=1, max_reply=256):
        self.alias = alias
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [BIN, "-m", MODEL, "--alias", alias, "--host", "127.0.0.1", "--port", str(self.port),
                     "-c", str(ctx), "-np", str(slots), "-t", "2", "-n", str(max_reply), "--no-webui"]
        if embeddings:
            self.args += ["--embeddings", "--pooling", "mean"]
        self.args += list(extra)
        self.log_file = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        self.proc = None

    def status(self, method, path, body=None, timeout=10):
        """(HTTP status, parsed JSON body or None) of one request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            try:
                return r.status, json.loads(data)
            except ValueError:
                return r.status, None
        finally:
            conn.close()

    def healthy(self):
        try:
            return self.status("GET", "/health", timeout=2)[0] == 200
        except OSError:
            return False

    def log(self):
        with open(self.log_file.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def start(self, timeout=60):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: self.proc.poll() is not None or self.healthy(), timeout, "llama-server /health")
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.proc.returncode}:\n{self.log()[-2000:]}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        try:
            os.unlink(self.log_file.name)
        except OSError:
            pass


class Deployment:
    """The judge endpoints of one test: one instance serving chat and
    embeddings (separate=False), or a chat-only instance and an embedding
    instance. chat_url and embed_url are their base URLs."""

    def __init__(self, separate=False, chat_extra=(), embed_extra=()):
        self.separate = separate
        if separate:
            self.chat = LlamaServer("judge", embeddings=False, extra=chat_extra)
            self.embed = LlamaServer("embedder", embeddings=True, extra=embed_extra)
        else:
            self.chat = self.embed = LlamaServer("judge", embeddings=True, extra=tuple(chat_extra) + tuple(embed_extra))

    @property
    def chat_url(self):
        return self.chat.url

    @property
    def embed_url(self):
        return self.embed.url

    def __enter__(self):
        self.chat.start()
        if self.separate:
            try:
                self.embed.start()
            except BaseException:
                self.chat.stop()
                raise
        return self

    def __exit__(self, *exc):
        for s in {id(self.chat): self.chat, id(self.embed): self.embed}.values():
            s.__exit__(*exc)
