// compare.js - two runs of a dataset side by side
// (#/compare?dataset=&baseline=&candidate=): per metric both means, the
// delta with its 95 % interval drawn around zero, p (Holm) and the verdict
// (GET /api/compare); below, the items that dropped most, each opening the
// two evaluations side by side with their answers, contexts and reasoning.

import {api} from './api.js';
import {$, clear, fill, fmtScore, h, human, shorten, showError, svg} from './dom.js';
import {renderReason} from './render.js';
import * as datasets from './datasets.js';
import {on} from './hub.js';
import {setHash} from './nav.js';

let params = {dataset: '', baseline: '', candidate: ''};
let gen = 0;
let shown = false;
let result = null;

function go(p) {
    const q = new URLSearchParams();
    for (const k of ['dataset', 'baseline', 'candidate'])
        if (p[k])
            q.set(k, p[k]);
    const s = q.toString();
    setHash(s ? `#/compare?${s}` : '#/compare');
}

function options(sel, names, current, none) {
    clear(sel);
    sel.appendChild(h('option', {value: ''}, none));
    const all = names.slice();
    if (current && !all.includes(current))
        all.push(current);
    for (const n of all)
        sel.appendChild(h('option', {value: n}, n));
    sel.value = current || '';
}

function fmtDelta(v) {
    if (typeof v !== 'number' || !isFinite(v))
        return '—';
    return (v > 0 ? '+' : v < 0 ? '−' : '±') + fmtScore(Math.abs(v));
}

function fmtP(p) {
    if (typeof p !== 'number' || !isFinite(p))
        return '—';
    return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

// The delta and its interval as a bar around zero on a scale of ±range.
export function deltaBar(m, range) {
    const W = 160, H = 18, mid = W / 2, half = W / 2 - 6;
    const x = (v) => (mid + Math.max(-1, Math.min(1, v / range)) * half).toFixed(1);
    const [lo, hi] = Array.isArray(m.ci95) ? m.ci95 : [null, null];
    const label = typeof m.delta === 'number'
        ? `Delta ${fmtDelta(m.delta)}` + (lo !== null && hi !== null ? `, 95 % interval ${fmtDelta(lo)} to ${fmtDelta(hi)}` : '')
        : 'No delta: no pairs';
    const kids = [svg('title', null, label),
        svg('line', {class: 'db-zero', x1: mid, y1: 1, x2: mid, y2: H - 1})];
    if (lo !== null && hi !== null)
        kids.push(svg('rect', {class: 'db-ci', x: x(lo), y: 5, width: Math.max(2, x(hi) - x(lo)).toFixed(1), height: 8, rx: 2}));
    if (typeof m.delta === 'number')
        kids.push(svg('circle', {class: 'db-pt', cx: x(m.delta), cy: 9, r: 2.5}));
    return svg('svg', {class: `dbar dbar-${m.verdict || 'none'}`, viewBox: `0 0 ${W} ${H}`, width: W, height: H,
        role: 'img', 'aria-label': label}, kids);
}

function verdictBadge(v) {
    const words = {better: 'better', worse: 'worse', no_difference: 'no difference'};
    return h('span', {class: `verdict verdict-${v || 'none'}`}, words[v] || '—');
}

function renderMetrics(res) {
    const ms = res.metrics || [];
    let range = 0.05;
    for (const m of ms)
        for (const v of [m.delta, ...(Array.isArray(m.ci95) ? m.ci95 : [])])
            if (typeof v === 'number' && isFinite(v))
                range = Math.max(range, Math.abs(v) * 1.1);
    fill($('c-metrics'), ms.map((m) => h('tr', {'data-metric': m.metric, 'data-verdict': m.verdict},
        h('th', {scope: 'row'}, human(m.metric)),
        h('td', {class: 'num'}, String(m.pairs)),
        h('td', {class: 'num'}, fmtScore(m.baseline_mean)),
        h('td', {class: 'num'}, fmtScore(m.candidate_mean)),
        h('td', {class: 'num strong'}, fmtDelta(m.delta)),
        h('td', null, deltaBar(m, range)),
        h('td', {class: 'num'}, fmtP(m.p_holm)),
        h('td', null, verdictBadge(m.verdict)))));
    const b = res.baseline || {}, c = res.candidate || {};
    fill($('c-sides'), `Baseline ${b.run || b.dataset} (${b.rows} done rows), candidate ${c.run || c.dataset} ` +
        `(${c.rows} done rows); items pair by id, else by question. A verdict needs p (Holm) below ${res.alpha}.`);
    $('c-result').hidden = false;
}

function renderDrops() {
    const ms = (result && result.metrics) || [];
    const name = $('c-metric').value;
    const m = ms.find((x) => x.metric === name) || ms[0];
    const drops = (m && m.drops) || [];
    fill($('c-drops'), drops.length ? drops.map((d) => h('li', {class: 'drop'},
        h('button', {type: 'button', class: 'btn btn-small drop-open', 'data-base': d.baseline_id,
            'data-cand': d.candidate_id, on: {click: () => openPair(d, m.metric)}},
        `${fmtScore(d.baseline)} → ${fmtScore(d.candidate)}`),
        ' ', h('span', {class: 'drop-d'}, fmtDelta(d.delta)), ' ',
        h('span', {class: 'drop-q'}, d.item ? `item ${d.item}` : shorten(d.question || '', 110))))
        : [h('li', {class: 'muted'}, 'No item dropped on this metric.')]);
    $('c-drops-card').hidden = ms.length === 0;
}

function side(title, j, metric) {
    const scores = j.scores || {}, reasons = j.reasons || {};
    const names = Object.keys(scores).sort((a, b) => (a === metric ? -1 : b === metric ? 1 : a.localeCompare(b)));
    return h('section', {class: 'pair-side', 'data-id': j.id},
        h('h3', null, title, ' ', h('a', {href: `#/eval/${j.id}`}, `#${j.id}`)),
        h('dl', {class: 'kv kv-wide'},
            h('dt', null, 'Answer'), h('dd', null, h('div', {class: 'text'}, j.answer || '')),
            h('dt', null, 'Contexts'), h('dd', null, Array.isArray(j.contexts) && j.contexts.length
                ? h('ol', {class: 'ctx-list'}, j.contexts.map((c) => h('li', null, h('div', {class: 'text'}, c))))
                : h('span', {class: 'muted'}, 'no contexts'))),
        h('ul', {class: 'metrics'}, names.map((n) => h('li', {class: 'metric' + (n === metric ? ' metric-focus' : ''), 'data-metric': n},
            h('div', {class: 'metric-head'}, h('h4', null, human(n)),
                h('span', {class: 'metric-score'}, scores[n] === null ? 'no score' : fmtScore(scores[n]))),
            renderReason(reasons[n], scores[n])))));
}

async function openPair(d, metric) {
    const g = gen;
    const card = $('c-pair');
    card.hidden = false;
    fill($('c-pair-q'), d.question || d.item || '');
    fill($('c-pair-cols'), h('p', {class: 'muted'}, 'Loading both evaluations…'));
    try {
        const [b, c] = await Promise.all([api('GET', `/api/eval/${d.baseline_id}`), api('GET', `/api/eval/${d.candidate_id}`)]);
        if (g !== gen)
            return;
        fill($('c-pair-q'), b.question || c.question || d.item || '');
        fill($('c-pair-cols'), side(`Baseline ${b.run || b.dataset || ''}`, b, metric),
            side(`Candidate ${c.run || c.dataset || ''}`, c, metric));
        $('c-pair-h').focus({preventScroll: true});
        card.scrollIntoView({block: 'start'});
    } catch (e) {
        if (g === gen)
            showError($('compare-error'), e, 'Could not load the two evaluations.');
    }
}

async function loadRuns(g) {
    const r = await api('GET', `/api/runs?dataset=${encodeURIComponent(params.dataset)}`);
    if (g !== gen)
        return null;
    return (r.runs || []).map((x) => x.run).filter((x) => typeof x === 'string' && x);
}

async function load() {
    const g = ++gen;
    result = null;
    for (const id of ['c-result', 'c-drops-card', 'c-pair', 'compare-error'])
        $(id).hidden = true;
    options($('c-dataset'), datasets.known(), params.dataset, 'Choose a dataset');
    options($('c-baseline'), [], params.baseline, 'Choose a run');
    options($('c-candidate'), [], params.candidate, 'Choose a run');
    fill($('c-hint'), params.dataset ? 'Loading the runs…' : 'Choose a dataset, then the baseline and the candidate run.');
    if (!params.dataset)
        return;
    try {
        const runs = await loadRuns(g);
        if (runs === null)
            return;
        options($('c-baseline'), runs, params.baseline, 'Choose a run');
        options($('c-candidate'), runs, params.candidate, 'Choose a run');
        if (!params.baseline && !params.candidate && runs.length >= 2) {
            go({...params, baseline: runs[1], candidate: runs[0]});   // the newest against the one before
            return;
        }
        if (!params.baseline || !params.candidate) {
            fill($('c-hint'), runs.length < 2 ? `Dataset ${params.dataset} has ${runs.length ? 'one run' : 'no runs'}: ` +
                'rows carry a run with "run" when submitted.' : 'Choose the baseline and the candidate run.');
            return;
        }
        fill($('c-hint'), 'Comparing…');
        const q = new URLSearchParams(params);
        const res = await api('GET', `/api/compare?${q}`);
        if (g !== gen)
            return;
        result = res;
        fill($('c-hint'));
        renderMetrics(res);
        const ms = res.metrics || [];
        const worst = ms.find((m) => m.verdict === 'worse') || ms[0];
        options($('c-metric'), ms.map((m) => m.metric), worst ? worst.metric : '', 'Choose a metric');
        for (const o of $('c-metric').options)
            if (o.value)
                o.textContent = human(o.value);
        renderDrops();
    } catch (e) {
        if (g === gen) {
            fill($('c-hint'));
            showError($('compare-error'), e, 'Could not compare.');
        }
    }
}

export function init() {
    on('datasets', () => {
        if (shown)
            options($('c-dataset'), datasets.known(), params.dataset, 'Choose a dataset');
    });
    $('compare-filters').addEventListener('submit', (e) => e.preventDefault());
    $('c-dataset').addEventListener('change', () => go({dataset: $('c-dataset').value, baseline: '', candidate: ''}));
    $('c-baseline').addEventListener('change', () => go({...params, baseline: $('c-baseline').value}));
    $('c-candidate').addEventListener('change', () => go({...params, candidate: $('c-candidate').value}));
    $('c-metric').addEventListener('change', () => {
        $('c-pair').hidden = true;
        renderDrops();
    });
}

export function show(q) {
    params = {dataset: q.get('dataset') || '', baseline: q.get('baseline') || '', candidate: q.get('candidate') || ''};
    shown = true;
    load();
}

export function hide() {
    shown = false;
    gen++;
}
