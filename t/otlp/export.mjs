// export.mjs - a real OpenTelemetry client for ragrade's tests: the
// JavaScript SDK builds the traces of a small fake RAG pipeline (a question,
// a retriever that returns documents in rank order, an LLM call, an answer)
// and its OTLP/HTTP exporter sends them to a URL.
//
//   node export.mjs URL [--proto|--json] [--gzip] [--convention openinference|openllmetry|genai]
//                       [--traces N] [--token T] [--service S] [--version V]
//
// Prints one JSON line: {"traces": [{"trace_id", "root_span_id", "question",
// "answer", "contexts"}], "result": "ok"|error text}, so that a test compares
// the rows ragrade makes with what was sent.
import { context, trace, SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as HttpExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

function args(argv) {
    const o = { url: argv[0], proto: true, gzip: false, convention: 'openinference', traces: 1,
                token: '', service: 'fake-rag', version: '1.0.0' };
    for (let i = 1; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--proto') o.proto = true;
        else if (a === '--json') o.proto = false;
        else if (a === '--gzip') o.gzip = true;
        else if (a === '--convention') o.convention = argv[++i];
        else if (a === '--traces') o.traces = Number(argv[++i]);
        else if (a === '--token') o.token = argv[++i];
        else if (a === '--service') o.service = argv[++i];
        else if (a === '--version') o.version = argv[++i];
        else throw new Error(`unknown argument ${a}`);
    }
    if (!o.url) throw new Error('usage: node export.mjs URL [options]');
    return o;
}

// The fake pipeline's data for trace number i: distinct per trace.
function example(i) {
    return {
        question: `What is the capital of country ${i}? (é, "quoted", \\slash)`,
        contexts: [`Document one for ${i}: the capital is City${i}.`,
                   `Document two for ${i}: City${i} lies on a river.`,
                   `Document three for ${i}: unrelated text ✓.`],
        answer: `The capital of country ${i} is City${i}.`,
    };
}

function child(tracer, parent, name, attrs, kind = SpanKind.INTERNAL) {
    const ctx = trace.setSpan(context.active(), parent);
    return tracer.startSpan(name, { kind, attributes: attrs }, ctx);
}

// OpenInference (Arize Phoenix): CHAIN root, RETRIEVER, LLM.
function openinference(tracer, ex) {
    const root = tracer.startSpan('rag-query', { kind: SpanKind.SERVER, attributes: {
        'openinference.span.kind': 'CHAIN', 'input.value': ex.question, 'input.mime_type': 'text/plain' } });
    const docs = {};
    // Set in reverse order: ragrade must order by the index N, not by arrival.
    for (let n = ex.contexts.length - 1; n >= 0; n--) {
        docs[`retrieval.documents.${n}.document.content`] = ex.contexts[n];
        docs[`retrieval.documents.${n}.document.id`] = `doc-${n}`;
        docs[`retrieval.documents.${n}.document.score`] = 1 - n / 10;
    }
    const ret = child(tracer, root, 'retrieve', { 'openinference.span.kind': 'RETRIEVER',
                                                 'input.value': ex.question, ...docs });
    ret.end();
    const llm = child(tracer, root, 'llm', {
        'openinference.span.kind': 'LLM', 'llm.model_name': 'fake-model',
        'llm.input_messages.0.message.role': 'system',
        'llm.input_messages.0.message.content': 'Answer from the context:\n' + ex.contexts.join('\n'),
        'llm.input_messages.1.message.role': 'user',
        'llm.input_messages.1.message.content': ex.question,
        'llm.output_messages.0.message.role': 'assistant',
        'llm.output_messages.0.message.content': ex.answer }, SpanKind.CLIENT);
    llm.end();
    root.setAttribute('output.value', ex.answer);
    root.end();
    return root;
}

// OpenLLMetry (Traceloop): workflow root, retriever task, LLM span with
// gen_ai.prompt/completion.
function openllmetry(tracer, ex) {
    const root = tracer.startSpan('rag.workflow', { attributes: {
        'traceloop.span.kind': 'workflow', 'traceloop.entity.name': 'rag',
        'traceloop.entity.input': JSON.stringify({ args: [], kwargs: { question: ex.question } }) } });
    const ret = child(tracer, root, 'retrieve.task', {
        'traceloop.span.kind': 'task', 'traceloop.entity.name': 'retrieve',
        'traceloop.entity.input': JSON.stringify({ args: [ex.question], kwargs: {} }),
        'traceloop.entity.output': JSON.stringify(ex.contexts) });
    ret.end();
    const llm = child(tracer, root, 'openai.chat', {
        'llm.request.type': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'fake-model',
        'gen_ai.operation.name': 'chat',
        'gen_ai.prompt.0.role': 'system',
        'gen_ai.prompt.0.content': 'Answer from the context:\n' + ex.contexts.join('\n'),
        'gen_ai.prompt.1.role': 'user', 'gen_ai.prompt.1.content': ex.question,
        'gen_ai.completion.0.role': 'assistant', 'gen_ai.completion.0.content': ex.answer },
        SpanKind.CLIENT);
    llm.end();
    root.setAttribute('traceloop.entity.output', JSON.stringify(ex.answer));
    root.end();
    return root;
}

// OpenTelemetry GenAI semantic conventions: invoke_agent root, a retrieval
// span with gen_ai.retrieval.documents, a chat span; messages as JSON.
function genai(tracer, ex) {
    const text = (role, t) => ({ role, parts: [{ type: 'text', content: t }] });
    const root = tracer.startSpan('invoke_agent rag', { attributes: {
        'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'rag',
        'gen_ai.input.messages': JSON.stringify([text('user', ex.question)]) } });
    const ret = child(tracer, root, 'retrieval', {
        'gen_ai.operation.name': 'retrieval', 'gen_ai.retrieval.query.text': ex.question,
        'gen_ai.retrieval.documents': JSON.stringify(
            ex.contexts.map((c, n) => ({ id: `doc-${n}`, score: 1 - n / 10, content: c }))) });
    ret.end();
    const llm = child(tracer, root, 'chat fake-model', {
        'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'fake-model',
        'gen_ai.input.messages': JSON.stringify([text('system', ex.contexts.join('\n')),
                                                 text('user', ex.question)]),
        'gen_ai.output.messages': JSON.stringify([text('assistant', ex.answer)]) }, SpanKind.CLIENT);
    llm.end();
    root.setAttribute('gen_ai.output.messages', JSON.stringify([text('assistant', ex.answer)]));
    root.end();
    return root;
}

const conventions = { openinference, openllmetry, genai };

async function main() {
    const o = args(process.argv.slice(2));
    const conf = { url: o.url, headers: o.token ? { Authorization: `Bearer ${o.token}` } : {},
                   timeoutMillis: 10000 };
    if (o.gzip) conf.compression = 'gzip';
    const exporter = o.proto ? new ProtoExporter(conf) : new HttpExporter(conf);
    const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': o.service, 'service.version': o.version }),
        spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 512,
                                                            maxQueueSize: 1 << 20,
                                                            scheduledDelayMillis: 100 })],
    });
    const tracer = provider.getTracer('ragrade-test', '1.0.0');
    const sent = [];
    for (let i = 0; i < o.traces; i++) {
        const ex = example(i);
        if (!conventions[o.convention]) throw new Error(`unknown convention ${o.convention}`);
        const root = conventions[o.convention](tracer, ex);
        const sc = root.spanContext();
        sent.push({ trace_id: sc.traceId, root_span_id: sc.spanId, ...ex });
    }
    let result = 'ok';
    // The exporter reports failures to the processor, which only logs them:
    // wrap export to see the result.
    const orig = exporter.export.bind(exporter);
    exporter.export = (spans, cb) => orig(spans, (r) => {
        if (r.code !== 0) result = String(r.error && r.error.message || r.error || 'failed');
        cb(r);
    });
    await provider.forceFlush();
    await provider.shutdown();
    process.stdout.write(JSON.stringify({ traces: sent, result }) + '\n');
}

main().catch((e) => { process.stdout.write(JSON.stringify({ traces: [], result: String(e) }) + '\n');
                      process.exit(1); });
