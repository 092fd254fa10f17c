// summary.js - per-dataset summary (#/summary?dataset=&run=): counts by
// status, each metric's mean with its 95 % interval, range, n, nulls and
// histogram, tokens spent, and the judge's health.

import {api} from './api.js';
import {$, fill, fmtInt, fmtScore, h, human, showError} from './dom.js';
import {Poller} from './poll.js';
import {histogram} from './render.js';
import * as datasets from './datasets.js';
import {emit} from './hub.js';
import {setHash} from './nav.js';

let dataset = '';
let run = '';
let gen = 0;
const poller = new Poller(load);

function renderCounts(s) {
    const c = s.counts || {};
    const total = ['queued', 'running', 'done', 'failed'].reduce((a, k) => a + (Number(c[k]) || 0), 0);
    fill($('s-counts'),
        ['queued', 'running', 'done', 'failed'].map((k) => h('li', {class: `stat stat-${k}`},
            h('span', {class: 'stat-n'}, fmtInt(Number(c[k]) || 0)), h('span', {class: 'stat-k'}, k))),
        h('li', {class: 'stat stat-total'}, h('span', {class: 'stat-n'}, fmtInt(total)), h('span', {class: 'stat-k'}, 'total')));
    const t = s.tokens || {};
    fill($('s-tokens'), `Judge tokens: ${fmtInt(t.prompt ?? 0)} prompt · ${fmtInt(t.completion ?? 0)} completion.`);
}

function renderMetrics(s) {
    const m = s.metrics || {};
    const names = Object.keys(m).sort();
    fill($('s-metrics'), names.map((name) => {
        const x = m[name] || {};
        return h('tr', {'data-metric': name},
            h('th', {scope: 'row'}, human(name)),
            h('td', {class: 'num strong'}, fmtScore(x.mean), x.corrected ? h('div', {class: 'corrected small'},
                `${fmtScore(x.corrected.estimate)} [${fmtScore(x.corrected.ci95?.[0])}, ` +
                `${fmtScore(x.corrected.ci95?.[1])}], ${x.corrected.phrase}`) : null),
            h('td', {class: 'num ci', title: x.ci_method ? `${x.ci_method}; standard error ${fmtScore(x.se)}` : null},
                Array.isArray(x.ci95) && x.ci95[0] !== null ? `${fmtScore(x.ci95[0])} – ${fmtScore(x.ci95[1])}` : '—'),
            h('td', {class: 'num'}, fmtScore(x.min)),
            h('td', {class: 'num'}, fmtScore(x.max)),
            h('td', {class: 'num'}, fmtInt(x.n)),
            h('td', {class: 'num' + (x.nulls ? ' warn' : '')}, fmtInt(x.nulls)),
            h('td', null, histogram(name, x.histogram)));
    }));
    $('s-metrics-empty').hidden = names.length > 0;
}

function renderJudge(health) {
    const j = health.judge || {};
    const rows = [
        ['State', h('span', {class: `pill pill-${j.state || 'unknown'}`}, j.state || 'unknown')],
        ['Backend', j.backend || '—'],
        ['Model', j.model || '—'],
    ];
    if (j.error)
        rows.push(['Error', h('div', {class: 'text err-text'}, j.error)]);
    rows.push(['Workers', fmtInt(health.workers)]);
    rows.push(['Max concurrency', fmtInt(health.max_concurrency)]);
    rows.push(['Default metrics', Array.isArray(j.default_metrics) ? j.default_metrics.map(human).join(', ') : '—']);
    if (health.status && health.status !== 'ok')
        rows.push(['Service', h('span', {class: 'err-text'}, `${health.status}${health.error ? ': ' + health.error : ''}`)]);
    const q = health.queue;
    if (q)
        rows.push(['Queue (all)', h('span', null, ['queued', 'running', 'done', 'failed'].map((k, i) =>
            [i ? ' · ' : '', `${fmtInt(Number(q[k]) || 0)} ${k}`]))]);
    fill($('s-judge'), rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

async function load() {
    const g = gen;
    const qs = new URLSearchParams();
    if (dataset)
        qs.set('dataset', dataset);
    if (run)
        qs.set('run', run);
    const q = qs.toString() ? `?${qs}` : '';
    const [s, health] = await Promise.all([api('GET', `/api/summary${q}`), api('GET', '/api/health')]);
    if (g !== gen)
        return 'stale';
    $('summary-error').hidden = true;
    renderCounts(s);
    renderMetrics(s);
    renderJudge(health);
    emit('health', health);
    const names = (s.datasets || []).map((d) => d.dataset).filter((d) => typeof d === 'string' && d);
    if (JSON.stringify(names) !== $('s-dataset').getAttribute('data-names')) {
        $('s-dataset').setAttribute('data-names', JSON.stringify(names));
        datasets.fillSelect($('s-dataset'), names, dataset);
    }
    return JSON.stringify([s, health.judge, health.queue]);
}

export function init() {
    $('summary-filters').addEventListener('submit', (e) => e.preventDefault());
    const go = (d, r) => {
        const qs = new URLSearchParams();
        if (d)
            qs.set('dataset', d);
        if (r)
            qs.set('run', r);
        setHash(qs.toString() ? `#/summary?${qs}` : '#/summary');
    };
    $('s-dataset').addEventListener('change', () => go($('s-dataset').value, ''));
    $('s-run').addEventListener('change', () => go(dataset, $('s-run').value));
}

export function show(q) {
    gen++;
    dataset = q.get('dataset') || '';
    run = q.get('run') || '';
    datasets.fillSelect($('s-dataset'), datasets.known(), dataset);
    datasets.fillRuns($('s-run'), [], run);
    const g = gen;
    datasets.runs(dataset).then((names) => {
        if (g === gen)
            datasets.fillRuns($('s-run'), names, run);
    });
    $('s-dataset').removeAttribute('data-names');
    $('summary-error').hidden = true;
    // Another dataset's figures must not stand in for this one's.
    fill($('s-counts'));
    fill($('s-tokens'));
    fill($('s-metrics'));
    $('s-metrics-empty').hidden = true;
    poller.onState = (st) => {
        if (st.error)
            showError($('summary-error'), st.error, 'Could not load the summary.');
    };
    poller.start();
}

export function hide() {
    gen++;
    poller.stop();
}
