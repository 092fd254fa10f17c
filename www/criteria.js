// criteria.js - the Criteria view (#/criteria): the criteria every row may
// name (kind, inputs, version, where defined), and a form to create or edit
// one through PUT /api/criteria/NAME (admin token): a critic's definition
// and samples, a rubric's levels ("score: description", one a line) and
// evaluation steps (one a line). The server's 400 names the field at fault.

import {api} from './api.js';
import {$, fill, h, human, showError} from './dom.js';
import {emit} from './hub.js';

const INPUTS = ['question', 'answer', 'contexts', 'ground_truth'];
let items = [];

function row(c) {
    const edit = h('button', {type: 'button', class: 'btn btn-small', 'data-edit': c.name},
        c.source === 'config' ? 'View' : 'Edit');
    edit.addEventListener('click', () => load(c));
    return h('tr', {'data-criterion': c.name},
        h('th', {scope: 'row'}, h('code', null, c.name)),
        h('td', null, c.kind),
        h('td', null, (c.inputs || []).map(human).join(', ')),
        h('td', null, c.kind === 'rubric' ? (c.levels || []).map((l) => l.score).join(' · ')
            : `${c.samples || 1} sample${c.samples > 1 ? 's' : ''}`),
        h('td', null, h('code', null, c.version || '')),
        h('td', null, c.source === 'config' ? 'configuration file' : 'API'),
        h('td', null, edit));
}

async function refresh() {
    const err = $('c-error');
    try {
        const j = await api('GET', '/api/criteria');
        items = j.criteria || [];
        fill($('c-list'), items.map(row));
        $('c-empty').hidden = items.length > 0;
        err.hidden = true;
    } catch (e) {
        showError(err, e, 'The criteria could not be loaded.');
    }
}

function setKind(kind) {
    $('c-kind').value = kind;
    $('c-critic-set').hidden = kind !== 'critic';
    $('c-rubric-set').hidden = kind !== 'rubric';
}

// Fill the form with criterion c (or empty it for a new one).
function load(c) {
    c = c || {kind: 'critic', inputs: ['question', 'answer'], samples: 1};
    $('c-name').value = c.name || '';
    $('c-definition').value = c.definition || '';
    for (const i of INPUTS)
        $(`c-in-${i}`).checked = (c.inputs || []).includes(i);
    $('c-samples').value = c.samples || 1;
    $('c-levels').value = (c.levels || []).map((l) => `${l.score}: ${l.description}`).join('\n');
    $('c-steps').value = (c.steps || []).join('\n');
    $('c-judge').value = c.judge || '';
    setKind(c.kind || 'critic');
    const ro = c.source === 'config';
    for (const el of $('c-form').querySelectorAll('input, textarea, select, button[type=submit]'))
        el.disabled = ro;
    $('c-delete').hidden = !c.name || ro;
    fill($('c-form-h'), c.name ? (ro ? `${c.name} (from the configuration file)` : `Edit ${c.name}`)
        : 'New criterion');
    $('cr-result').hidden = true;
}

// The form as the API's JSON; throws an Error naming the field for a line
// of levels that is not "score: description".
function body() {
    const kind = $('c-kind').value;
    const b = {kind, definition: $('c-definition').value,
        inputs: INPUTS.filter((i) => $(`c-in-${i}`).checked)};
    if (kind === 'critic')
        b.samples = Number($('c-samples').value) || 1;
    if (kind === 'rubric') {
        b.levels = $('c-levels').value.split('\n').filter((l) => l.trim()).map((l, i) => {
            const m = /^\s*(-?\d+)\s*[:=-]\s*(.*)$/.exec(l);
            if (!m)
                throw Object.assign(new Error(`Level ${i + 1} must read "score: description".`),
                    {field: `levels[${i}]`});
            return {score: Number(m[1]), description: m[2].trim()};
        });
        const steps = $('c-steps').value.split('\n').map((s) => s.trim()).filter(Boolean);
        if (steps.length)
            b.steps = steps;
    }
    if ($('c-judge').value.trim())
        b.judge = $('c-judge').value.trim();
    return b;
}

function fieldControl(field) {
    const f = String(field || '').replace(/\[.*$/, '');
    return {name: 'c-name', kind: 'c-kind', definition: 'c-definition', samples: 'c-samples',
        levels: 'c-levels', steps: 'c-steps', judge: 'c-judge', inputs: 'c-in-question'}[f];
}

async function save(e) {
    e.preventDefault();
    const out = $('cr-result');
    for (const el of $('c-form').querySelectorAll('[aria-invalid]'))
        el.removeAttribute('aria-invalid');
    const name = $('c-name').value.trim();
    try {
        const b = body();
        const c = await api('PUT', `/api/criteria/${encodeURIComponent(name)}`, b);
        out.className = 'alert alert-ok';
        fill(out, `Saved ${c.name}: version ${c.version}.`);
        out.hidden = false;
        emit('criteria', c);
        await refresh();
        load(Object.assign({source: 'api'}, c));
        out.hidden = false;
    } catch (err) {
        out.className = 'alert alert-error';
        if (err.words)
            showError(out, err, 'Not saved.');
        else
            fill(out, h('strong', null, 'Not saved. '), err.message);
        out.hidden = false;
        const id = fieldControl(err.field);
        if (id) {
            $(id).setAttribute('aria-invalid', 'true');
            $(id).focus();
        }
    }
}

async function remove() {
    const name = $('c-name').value.trim();
    const out = $('cr-result');
    try {
        await api('DELETE', `/api/criteria/${encodeURIComponent(name)}`);
        out.className = 'alert alert-ok';
        fill(out, `Deleted ${name}; its past scores stay.`);
        out.hidden = false;
        await refresh();
        load(null);
        out.hidden = false;
    } catch (err) {
        showError(out, err, 'Not deleted.');
    }
}

export function init() {
    $('c-kind').addEventListener('change', () => setKind($('c-kind').value));
    $('c-form').addEventListener('submit', save);
    $('c-delete').addEventListener('click', remove);
    $('c-new').addEventListener('click', () => load(null));
    load(null);
}

export function show() {
    refresh();
}

export function hide() {}
