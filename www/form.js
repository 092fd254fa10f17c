// form.js - the "New evaluation" view: the one-row form (contexts as blocks
// to add and remove, metric checkboxes from /api/health) and the upload of a
// JSONL or JSON file sent as one all-or-nothing batch.

import {api} from './api.js';
import {$, clear, fill, h, human, showError} from './dom.js';
import {emit, on} from './hub.js';

let ctxSeq = 0;
let sentContexts = [];       // which block each sent context came from
let rowKey = null;           // Idempotency-Key of the row being submitted
let fileKey = null;

function newKey() {
    if (window.crypto && crypto.randomUUID)
        return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

// ---- contexts as blocks ----

function contextBlocks() {
    return Array.from($('r-contexts').querySelectorAll('.ctx'));
}

function renumber() {
    const blocks = contextBlocks();
    blocks.forEach((b, i) => {
        b.querySelector('label').textContent = `Context ${i + 1}`;
        const rm = b.querySelector('button');
        rm.setAttribute('aria-label', `Remove context ${i + 1}`);
    });
}

function addContext(text = '', focus = false) {
    const id = `r-ctx-${++ctxSeq}`;
    const ta = h('textarea', {id, rows: 3, name: 'context', value: text});
    const block = h('div', {class: 'ctx'},
        h('div', {class: 'ctx-head'},
            h('label', {for: id}, 'Context'),
            h('button', {type: 'button', class: 'btn btn-small btn-quiet', on: {click: () => removeContext(block)}},
                'Remove')),
        ta);
    $('r-contexts').appendChild(block);
    renumber();
    if (focus)
        ta.focus();
}

function removeContext(block) {
    const blocks = contextBlocks();
    const i = blocks.indexOf(block);
    block.remove();
    renumber();
    const rest = contextBlocks();
    const next = rest[Math.min(i, rest.length - 1)];
    (next ? next.querySelector('textarea') : $('r-add-context')).focus();
}

// ---- metrics ----

function setMetrics(health) {
    const list = $('r-metrics');
    const judge = health && health.judge || {};
    const all = Array.isArray(judge.metrics) ? judge.metrics : [];
    const defs = new Set(Array.isArray(judge.default_metrics) ? judge.default_metrics : []);
    if (list.getAttribute('data-for') === JSON.stringify(all))
        return;
    const checked = new Set(Array.from(list.querySelectorAll('input:checked')).map((c) => c.value));
    const first = !list.hasAttribute('data-for');
    list.setAttribute('data-for', JSON.stringify(all));
    fill(list, all.map((m) => {
        const id = `r-m-${m}`;
        const box = h('input', {type: 'checkbox', id, name: 'metrics', value: m});
        box.defaultChecked = defs.has(m);     // what Clear goes back to
        box.checked = first ? defs.has(m) : checked.has(m) || defs.has(m);
        return h('div', {class: 'check'}, box,
            h('label', {for: id}, human(m), defs.has(m) ? h('span', {class: 'muted small'}, ' default') : null));
    }));
    fill($('r-metrics-hint'), all.length ? `The ${judge.backend || ''} judge's defaults are checked.`.replace('  ', ' ')
        : 'The judge lists no metrics; its defaults will be used.');
}

// ---- submitting one row ----

function markInvalid(el, describedBy) {
    if (!el)
        return;
    el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-describedby', describedBy);
    el.focus();
}

function clearInvalid(form) {
    for (const el of form.querySelectorAll('[aria-invalid]')) {
        el.removeAttribute('aria-invalid');
        el.removeAttribute('aria-describedby');
    }
}

function controlFor(field) {
    const m = /^([a-z_]+)(?:\[(\d+)\])?$/.exec(field || '');
    if (!m)
        return null;
    switch (m[1]) {
    case 'question': return $('r-question');
    case 'answer': return $('r-answer');
    case 'ground_truth': return $('r-ground-truth');
    case 'dataset': return $('r-dataset');
    case 'metrics': {
        const boxes = $('r-metrics').querySelectorAll('input');
        const name = m[2] !== undefined ? boxes[Number(m[2])] : boxes[0];
        return name || null;
    }
    case 'contexts': {
        if (m[2] !== undefined && sentContexts[Number(m[2])])
            return sentContexts[Number(m[2])];
        return contextBlocks().length ? contextBlocks()[0].querySelector('textarea') : $('r-add-context');
    }
    default: return null;
    }
}

function fieldNote(field) {
    return field ? h('span', {class: 'detail'}, 'Field: ', h('code', null, field)) : null;
}

async function submitRow(e) {
    e.preventDefault();
    const form = $('row-form');
    const out = $('row-result');
    clearInvalid(form);
    const row = {};
    // Empty inputs are left out, so the server names what is missing.
    const q = $('r-question').value;
    const a = $('r-answer').value;
    const gt = $('r-ground-truth').value;
    const ds = $('r-dataset').value.trim();
    if (q.trim())
        row.question = q;
    if (a.trim())
        row.answer = a;
    sentContexts = [];
    row.contexts = [];
    for (const b of contextBlocks()) {
        const ta = b.querySelector('textarea');
        if (ta.value.trim()) {
            row.contexts.push(ta.value);
            sentContexts.push(ta);
        }
    }
    if (gt.trim())
        row.ground_truth = gt;
    if ($('r-metrics').hasAttribute('data-for'))
        row.metrics = Array.from($('r-metrics').querySelectorAll('input:checked')).map((c) => c.value);
    if (ds)
        row.dataset = ds;
    const btn = $('r-submit');
    btn.disabled = true;
    fill(out, 'Submitting…');
    out.className = 'result';
    if (!rowKey)
        rowKey = newKey();
    try {
        const r = await api('POST', '/api/eval', row, {key: rowKey});
        rowKey = null;
        out.className = 'result result-ok';
        fill(out, `Queued as evaluation #${r.id}. `,
            h('a', {href: `#/eval/${r.id}`}, `Open #${r.id}`), ' · ',
            h('a', {href: ds ? `#/?dataset=${encodeURIComponent(ds)}` : '#/'}, 'See all evaluations'));
        $('r-question').value = '';
        $('r-answer').value = '';
        $('r-ground-truth').value = '';
        clear($('r-contexts'));
        addContext();
        emit('activity', {dataset: ds});
    } catch (err) {
        if (err.status !== 0 && err.status < 500)
            rowKey = null;       // a refusal stored nothing; a network failure may have
        out.className = 'result alert alert-error';
        showError(out, err, 'Not submitted.');
        out.appendChild(fieldNote(err.field) || document.createTextNode(''));
        if (err.status === 400)
            markInvalid(controlFor(err.field), 'row-result');
    } finally {
        btn.disabled = false;
    }
}

// ---- uploading a file ----

const COLUMN_KEYS = ['question', 'user_input'];

// Rows from the text of a .jsonl or .json file; lines[i] is row i's line
// number in the file (JSONL), or null.
export function parseRows(text) {
    const t = text.replace(/^\uFEFF/, '');
    if (!t.trim())
        throw new Error('The file is empty.');
    const s = t.trimStart();
    if (s[0] === '[' || s[0] === '{') {
        let v;
        try {
            v = JSON.parse(t);
        } catch (e) {
            v = undefined;
        }
        if (Array.isArray(v))
            return {rows: v, lines: v.map(() => null)};
        if (v && typeof v === 'object') {
            const col = COLUMN_KEYS.find((k) => Array.isArray(v[k]));
            if (col) {               // ragas-style columns: {"user_input": [...], ...}
                const n = v[col].length;
                const keys = Object.keys(v);
                const bad = keys.find((k) => !Array.isArray(v[k]) || v[k].length !== n);
                if (bad)
                    throw new Error(`The column “${bad}” does not hold ${n} values like “${col}”.`);
                const rows = [];
                for (let i = 0; i < n; i++) {
                    const r = {};
                    for (const k of keys)
                        r[k] = v[k][i];
                    rows.push(r);
                }
                return {rows, lines: rows.map(() => null)};
            }
            return {rows: [v], lines: [null]};
        }
        if (s[0] === '[')
            throw new Error('The file starts like a JSON array but is not valid JSON.');
    }
    const rows = [];
    const lines = [];
    t.split(/\r?\n/).forEach((line, i) => {
        if (!line.trim())
            return;
        try {
            rows.push(JSON.parse(line));
        } catch (e) {
            throw new Error(`Line ${i + 1} is not valid JSON (${e.message}).`);
        }
        lines.push(i + 1);
    });
    return {rows, lines};
}

async function submitFile(e) {
    e.preventDefault();
    const out = $('upload-result');
    const input = $('u-file');
    out.className = 'result';
    input.removeAttribute('aria-invalid');
    const file = input.files && input.files[0];
    if (!file) {
        out.className = 'result alert alert-error';
        fill(out, 'Choose a .jsonl or .json file first.');
        markInvalid(input, 'upload-result');
        return;
    }
    let parsed;
    try {
        parsed = parseRows(await file.text());
    } catch (err) {
        out.className = 'result alert alert-error';
        fill(out, h('strong', null, `${file.name} was not sent.`), ' ', err.message);
        markInvalid(input, 'upload-result');
        return;
    }
    const ds = $('u-dataset').value.trim();
    if (ds)
        for (const r of parsed.rows)
            if (r && typeof r === 'object' && !Array.isArray(r) && (r.dataset === undefined || r.dataset === null))
                r.dataset = ds;
    const btn = $('u-submit');
    btn.disabled = true;
    fill(out, `Sending ${parsed.rows.length} rows…`);
    if (!fileKey)
        fileKey = newKey();
    try {
        const r = await api('POST', '/api/eval', parsed.rows, {key: fileKey});
        fileKey = null;
        const ids = Array.isArray(r.ids) ? r.ids : [];
        out.className = 'result result-ok';
        fill(out, h('strong', {class: 'count'}, `Accepted ${r.count} ${r.count === 1 ? 'row' : 'rows'}`),
            ` from ${file.name}`, ids.length ? `: evaluations #${ids[0]}–#${ids[ids.length - 1]} are queued. ` : '. ',
            h('a', {href: ds ? `#/?dataset=${encodeURIComponent(ds)}` : '#/'}, 'Watch them'));
        emit('activity', {dataset: ds});
    } catch (err) {
        if (err.status !== 0 && err.status < 500)
            fileKey = null;
        out.className = 'result alert alert-error';
        showError(out, err, `Nothing from ${file.name} was accepted.`);
        const m = /^\[(\d+)\]/.exec(err.field || '');
        if (m && parsed.lines[Number(m[1])])
            out.appendChild(h('span', {class: 'detail'}, `That is line ${parsed.lines[Number(m[1])]} of the file.`));
        out.appendChild(fieldNote(err.field) || document.createTextNode(''));
    } finally {
        btn.disabled = false;
    }
}

export function init() {
    on('health', setMetrics);
    addContext();
    $('r-add-context').addEventListener('click', () => addContext('', true));
    $('row-form').addEventListener('submit', submitRow);
    $('row-form').addEventListener('input', () => {
        rowKey = null;
    });
    $('row-form').addEventListener('reset', () => {
        setTimeout(() => {
            clear($('r-contexts'));
            addContext();
            clearInvalid($('row-form'));
            clear($('row-result'));
            $('row-result').className = 'result';
            rowKey = null;
        }, 0);
    });
    $('upload-form').addEventListener('submit', submitFile);
    $('u-file').addEventListener('change', () => {
        fileKey = null;
        clear($('upload-result'));
        $('upload-result').className = 'result';
    });
}

export function show() {
}

export function hide() {
}
