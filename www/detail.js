// detail.js - one evaluation (#/eval/{id}): its inputs, each metric's score
// with the judge's reasoning, errors, attempts, timings and tokens, and the
// admin actions retry and delete; beside each score, a control for the
// reader's own label (label.js).

import {api} from './api.js';
import {$, badge, fill, fmtDuration, fmtInt, fmtScore, fmtTime, h, human, parseTime, showError} from './dom.js';
import {Poller} from './poll.js';
import {renderReason, scaleOf, scoreBar} from './render.js';
import {emit} from './hub.js';
import {flash, setHash} from './nav.js';
import {labelControl, labeler, setLabeler} from './label.js';

let id = null;
let gen = 0;
let current = null;
const poller = new Poller(load);

function text(v) {
    return v === null || v === undefined || v === '' ? h('span', {class: 'muted'}, '—') : h('div', {class: 'text'}, v);
}

function list(items, what) {
    if (!Array.isArray(items) || items.length === 0)
        return h('span', {class: 'muted'}, `no ${what}`);
    return h('ol', {class: 'ctx-list'}, items.map((c) => h('li', null, h('div', {class: 'text'}, c))));
}

// A criterion's reason: a critic's votes, or a rubric's level with its
// description and the judge's finding for each evaluation step.
function critReason(r, version) {
    if (!r || typeof r !== 'object')
        return null;
    const ver = h('p', {class: 'muted small'}, 'Criterion version ', h('code', null, version));
    if (Array.isArray(r.samples)) {
        const split = r.yes && r.no;
        return h('div', {class: 'reason crit-votes'},
            h('p', null, h('strong', null, `${r.yes || 0} yes · ${r.no || 0} no`),
                r.failed ? ` · ${r.failed} failed` : '', split ? h('span', {class: 'warn'}, ' (split vote)') : ''),
            h('ol', {class: 'list'}, r.samples.map((x) => h('li', {'data-vote': x.error ? 'failed' : x.verdict ? 'yes' : 'no'},
                x.error ? h('span', {class: 'err-text'}, `failed: ${x.error}`)
                    : [h('strong', null, x.verdict ? 'yes' : 'no'), ': ', h('span', {class: 'text'}, x.reason)]))),
            ver);
    }
    if ('level' in r || 'normalised' in r) {
        return h('div', {class: 'reason crit-level'},
            h('p', null, h('strong', null, `Level ${r.score}`), r.level ? `: ${r.level}` : '',
                typeof r.normalised === 'number' ? h('span', {class: 'muted'}, ` (${fmtScore(r.normalised)} on [0, 1])`) : ''),
            Array.isArray(r.steps) && r.steps.length ? h('div', null, h('p', {class: 'small'}, 'Evaluation steps:'),
                h('ol', {class: 'list crit-steps'}, r.steps.map((x) => h('li', {class: 'text'},
                    typeof x === 'string' ? x : JSON.stringify(x))))) : null,
            r.reason ? h('p', {class: 'text'}, r.reason) : null,
            ver);
    }
    return null;
}

function renderScores(j) {
    const scores = j.scores || {};
    const reasons = j.reasons || {};
    const names = Object.keys(scores);
    if (!names.length) {
        const pending = j.status === 'queued' || j.status === 'running';
        const want = Array.isArray(j.metrics) && j.metrics.length ? ` (${j.metrics.map(human).join(', ')})` : '';
        return h('p', {class: 'muted'}, pending ? `Scores${want} appear here when the evaluation finishes.`
            : 'No scores were recorded.');
    }
    return h('ul', {class: 'metrics'}, names.map((m) => {
        const v = scores[m];
        const {hi} = scaleOf(m);
        return h('li', {class: 'metric', 'data-metric': m},
            h('div', {class: 'metric-head'},
                h('h3', null, human(m)),
                h('span', {class: 'metric-score' + (v === null ? ' muted' : '')},
                    v === null ? 'no score' : fmtScore(v), hi !== 1 && v !== null ? h('span', {class: 'muted small'}, ` / ${hi}`) : null),
                scoreBar(m, v)),
            h('div', {class: 'label-slot', 'data-metric': m}),
            (j.versions && j.versions[m] && critReason(reasons[m], j.versions[m])) || renderReason(reasons[m], v));
    }));
}

function renderInputs(j) {
    const kv = [
        ['Question', text(j.question)],
        ['Answer', text(j.answer)],
        ['Contexts', list(j.contexts, 'contexts')],
        ['Ground truth', text(j.ground_truth)],
    ];
    if (Array.isArray(j.reference_contexts) && j.reference_contexts.length)
        kv.push(['Reference contexts', list(j.reference_contexts, 'reference contexts')]);
    kv.push(['Metrics asked for', Array.isArray(j.metrics) && j.metrics.length ? j.metrics.map(human).join(', ')
        : h('span', {class: 'muted'}, 'the judge’s defaults')]);
    kv.push(['Dataset', j.dataset ? j.dataset : h('span', {class: 'muted'}, '—')]);
    return h('dl', {class: 'kv kv-wide'}, kv.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

function renderRun(j) {
    const created = parseTime(j.created_at);
    const started = parseTime(j.started_at);
    const finished = parseTime(j.finished_at);
    const tokens = j.tokens || {};
    const rows = [
        ['Status', badge(j.status)],
        ['Attempts', `${j.attempts ?? 0} of ${j.max_attempts ?? '?'}`],
        ['Created', fmtTime(j.created_at)],
        ['Started', fmtTime(j.started_at)],
        ['Finished', fmtTime(j.finished_at)],
        ['Waited', created !== null && started !== null ? fmtDuration(started - created) : '—'],
        ['Ran for', started !== null && finished !== null ? fmtDuration(finished - started) : '—'],
        ['Judge', j.judge || '—'],
        ['Tokens', `${fmtInt(tokens.prompt)} prompt · ${fmtInt(tokens.completion)} completion`],
    ];
    const out = rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]);
    if (j.last_error)
        out.push(h('dt', null, 'Last error'), h('dd', {class: 'err-text'}, h('div', {class: 'text'}, j.last_error)));
    return out;
}

function render(j) {
    current = j;
    fill($('detail-h'), `Evaluation #${j.id}`);
    const st = $('d-status');
    st.className = `badge badge-${j.status || 'unknown'}`;
    fill(st, j.status || 'unknown');
    fill($('d-scores'), renderScores(j));
    fill($('d-inputs'), renderInputs(j));
    fill($('d-run'), renderRun(j));
    $('d-retry').disabled = !(j.status === 'done' || j.status === 'failed');
    $('d-delete').disabled = j.status === 'running';
    $('detail-body').hidden = false;
    document.title = `#${j.id} ${j.status} · ragrade`;
    if (j.status === 'done')
        loadLabels(j.id);
}

// This labeler's labels into the controls beside the scores; Enter on one
// moves to the next metric's.
async function loadLabels(rid) {
    const g = gen;
    let mine = {};
    try {
        const r = await api('GET', `/api/eval/${rid}/labels`);
        for (const l of r.labels || [])
            if (l.labeler === labeler())
                mine[l.metric] = l.value;
    } catch (err) {
        mine = {};
    }
    if (g !== gen)
        return;
    const slots = [...$('d-scores').querySelectorAll('.label-slot')];
    const ctls = slots.map((slot) => {
        const m = slot.getAttribute('data-metric');
        return fill(slot, labelControl({id: rid, metric: m, value: mine[m] ?? null, sampled: false}))
            .firstChild;
    });
    ctls.forEach((c, i) => {
        c.next = () => (ctls[i + 1] || ctls[0]).focus();
    });
}

async function load() {
    const g = gen;
    try {
        const j = await api('GET', `/api/eval/${id}`);
        if (g !== gen)
            return 'stale';
        $('detail-error').hidden = true;
        const sig = JSON.stringify([j.status, j.updated_at, j.attempts, j.scores]);
        if (!current || sig !== JSON.stringify([current.status, current.updated_at, current.attempts, current.scores]))
            render(j);
        // Nothing more will change once it has finished: stop asking.
        if (j.status === 'done' || j.status === 'failed')
            poller.stop();
        return sig;
    } catch (err) {
        if (g !== gen)
            return 'stale';
        showError($('detail-error'), err, err.status === 404 ? null : 'Could not load this evaluation.');
        if (err.status === 404) {
            $('detail-body').hidden = true;
            poller.stop();
            return 'gone';
        }
        throw err;
    }
}

function adminFailed(err) {
    const out = $('d-admin-result');
    out.className = 'result alert alert-error';
    showError(out, err, 'Not done.');
}

async function retry() {
    const out = $('d-admin-result');
    out.className = 'result';
    fill(out, 'Asking for a retry…');
    try {
        const j = await api('POST', `/api/eval/${id}/retry`);
        out.className = 'result result-ok';
        fill(out, `Evaluation #${id} is queued again.`);
        render(j);
        poller.start();
        emit('activity', {dataset: null});
    } catch (err) {
        adminFailed(err);
    }
}

async function del() {
    $('d-confirm').hidden = true;
    const out = $('d-admin-result');
    out.className = 'result';
    fill(out, 'Deleting…');
    try {
        await api('DELETE', `/api/eval/${id}`);
        flash(`Evaluation #${id} was deleted.`);
        emit('activity', {dataset: null});
        setHash('#/');
    } catch (err) {
        adminFailed(err);
        $('d-delete').focus();
    }
}

export function init() {
    $('d-labeler').value = labeler();
    $('d-labeler').addEventListener('change', () => {
        setLabeler($('d-labeler').value.trim());
        if (current && current.status === 'done')
            loadLabels(current.id);
    });
    $('d-retry').addEventListener('click', retry);
    $('d-delete').addEventListener('click', () => {
        fill($('d-confirm-text'), `Delete evaluation #${id} and its scores? This cannot be undone.`);
        $('d-confirm').hidden = false;
        $('d-confirm-no').focus();
    });
    $('d-confirm-no').addEventListener('click', () => {
        $('d-confirm').hidden = true;
        $('d-delete').focus();
    });
    $('d-confirm-yes').addEventListener('click', del);
}

export function show(rid) {
    gen++;
    id = rid;
    current = null;
    fill($('detail-h'), `Evaluation #${rid}`);
    $('d-status').className = 'badge';
    fill($('d-status'));
    $('detail-body').hidden = true;
    $('detail-error').hidden = true;
    $('d-confirm').hidden = true;
    fill($('d-admin-result'));
    $('d-admin-result').className = 'result';
    poller.start();
}

export function hide() {
    gen++;
    poller.stop();
}
