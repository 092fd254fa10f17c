"""A minimal FastCGI client, to talk to the pool's socket the way nginx
does, without nginx: one request at a time on a connection, with or
without FCGI_KEEP_CONN."""
import socket
import struct

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR = 1, 2, 3, 4, 5, 6, 7
KEEP_CONN = 1


def _record(kind, body=b"", req_id=1):
    return struct.pack(">BBHHBx", 1, kind, req_id, len(body), 0) + body


def _pair(name, value):
    def size(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return size(len(name)) + size(len(value)) + name + value


class Conn:
    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _read(self, n):
        while len(self.buf) < n:
            got = self.sock.recv(65536)
            if not got:
                raise ConnectionError("the server closed the connection")
            self.buf += got
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self, method, path, body=b"", keep=True, headers=None):
        """Send one request; return (status, headers dict, body bytes)."""
        self.send(method, path, body, keep, headers)
        return self.response()

    def send(self, method, path, body=b"", keep=True, headers=None, end_input=True):
        """Send a request; end_input=False leaves its input open (no empty
        FCGI_STDIN record yet: end_input() sends it)."""
        params = {"REQUEST_METHOD": method, "DOCUMENT_URI": path, "REQUEST_URI": path,
                  "QUERY_STRING": "", "CONTENT_LENGTH": str(len(body)),
                  "CONTENT_TYPE": "application/json", "SERVER_PROTOCOL": "HTTP/1.1"}
        for k, v in (headers or {}).items():
            params["HTTP_" + k.upper().replace("-", "_")] = v
        enc = b"".join(_pair(k, v) for k, v in params.items())
        out = _record(BEGIN, struct.pack(">HB5x", 1, KEEP_CONN if keep else 0))
        out += _record(PARAMS, enc) + _record(PARAMS)
        for i in range(0, len(body), 32768):
            out += _record(STDIN, body[i:i + 32768])
        if end_input:
            out += _record(STDIN)
        self.sock.sendall(out)

    def end_input(self):
        self.sock.sendall(_record(STDIN))

    def response(self):
        """Read one answer: (status, headers dict, body bytes)."""
        stdout = b""
        while True:
            _, kind, _, length, padding = struct.unpack(">BBHHBx", self._read(8))
            content = self._read(length + padding)[:length]
            if kind == STDOUT:
                stdout += content
            elif kind == END:
                break
        head, _, payload = stdout.partition(b"\r\n\r\n")
        hdrs = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        return int(hdrs.get("status", "200").split()[0]), hdrs, payload

    def closed_by_server(self):
        """True once the server has closed its end (reads EOF)."""
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, socket.timeout):
            return False
