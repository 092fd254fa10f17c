// review.js - the Review view (#/review?dataset=&metric=&mode=&n=&seed=): a
// queue of rows to label for one dataset and metric, drawn by the server
// (GET /api/review) either as a seeded uniform random sample (its labels
// are stored with sampled = 1, so they may correct the judge's mean) or
// disagreements first; each row with the judge's score and a label
// control; progress (labelled / asked), and the agreement so far.

import {api} from './api.js';
import {$, fill, fmtInt, fmtScore, h, human, shorten, showError} from './dom.js';
import * as datasets from './datasets.js';
import {on} from './hub.js';
import {setHash} from './nav.js';
import {labelControl, labeler, setLabeler} from './label.js';

let gen = 0;
let metricNames = [];

function params() {
    const q = new URLSearchParams();
    const v = (id) => $(id).value.trim();
    if (v('rv-dataset'))
        q.set('dataset', v('rv-dataset'));
    q.set('metric', v('rv-metric'));
    q.set('mode', v('rv-mode'));
    q.set('n', v('rv-n') || '20');
    q.set('seed', v('rv-seed') || String(Math.floor(Math.random() * 1e9)));
    return q;
}

function progress(items) {
    const done = items.filter((x) => x.label !== null && x.label !== undefined).length;
    fill($('rv-progress'), `Labelled ${fmtInt(done)} of ${fmtInt(items.length)} asked`);
    const bar = $('rv-progress-bar');
    bar.max = Math.max(1, items.length);
    bar.value = done;
}

function itemRow(it, q, items, i) {
    const ctl = labelControl({id: it.id, metric: q.get('metric'), value: it.label, sampled: q.get('mode') === 'random',
        saved: (v) => {
            it.label = v;
            progress(items);
            agreement(q);
        }});
    return h('li', {class: 'review-item', 'data-id': it.id, 'data-index': i},
        h('div', {class: 'review-head'},
            h('a', {href: `#/eval/${it.id}`}, `#${it.id}`),
            h('span', {class: 'review-q'}, shorten(it.question, 160)),
            h('span', {class: 'review-score'}, `judge ${fmtScore(it.score)}`),
            it.gap !== null && it.gap !== undefined
                ? h('span', {class: 'muted small'}, ` · gap ${fmtScore(it.gap)}`) : null),
        ctl);
}

function renderQueue(r, q) {
    const items = r.items || [];
    const ol = h('ol', {class: 'review-list'}, items.map((it, i) => itemRow(it, q, items, i)));
    const ctls = [...ol.querySelectorAll('.label-ctl')];
    ctls.forEach((c, i) => {
        c.next = () => {
            const n = ctls[i + 1];
            if (n) {
                n.focus();
                n.scrollIntoView({block: 'nearest'});
            } else {
                fill($('rv-progress-note'), 'End of the queue.');
            }
        };
    });
    fill($('rv-queue'), ol);
    const how = r.mode === 'random'
        ? `A uniform random draw of ${fmtInt(items.length)} from ${fmtInt(r.candidates)} rows (seed ${r.seed}): ` +
          'these labels may correct the judge’s mean.'
        : `The ${fmtInt(items.length)} rows where the judge most likely errs` +
          (r.related ? ` (largest gaps to ${human(r.related)})` : '') + ': kept apart from the corrected mean.';
    fill($('rv-how'), how);
    fill($('rv-progress-note'));
    progress(items);
    if (ctls[0])
        ctls[0].focus();
}

async function agreement(q) {
    const a = new URLSearchParams({metric: q.get('metric')});
    if (q.get('dataset'))
        a.set('dataset', q.get('dataset'));
    const g = gen;
    try {
        const r = await api('GET', `/api/agreement?${a}`);
        if (g !== gen)
            return;
        const rows = [['Pairs', fmtInt(r.pairs)], ['Sampled', fmtInt(r.sampled_pairs)]];
        if (r.scale === 'binary') {
            rows.push(['Accuracy', fmtScore(r.accuracy)]);
            rows.push(['Cohen’s kappa', r.kappa === null ? '—'
                : `${fmtScore(r.kappa)} [${fmtScore(r.kappa_ci95?.[0])}, ${fmtScore(r.kappa_ci95?.[1])}]`]);
        } else {
            rows.push(['Spearman’s rho', fmtScore(r.spearman)], ['Kendall’s tau', fmtScore(r.kendall)],
                ['Mean abs. error', fmtScore(r.mae)]);
        }
        const c = r.corrected;
        rows.push(['Corrected mean', c ? `${fmtScore(c.estimate)} [${fmtScore(c.ci95?.[0])}, ${fmtScore(c.ci95?.[1])}]` +
            ` (judge ${fmtScore(c.judge_mean)}; ${c.phrase})` : 'from 30 randomly sampled labels']);
        fill($('rv-agree'), rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    } catch (err) {
        fill($('rv-agree'));
    }
}

async function load(q) {
    const g = gen;
    fill($('rv-queue'), h('p', {class: 'muted'}, 'Drawing the queue…'));
    $('rv-error').hidden = true;
    try {
        const lq = new URLSearchParams(q);
        if (labeler())
            lq.set('labeler', labeler());
        const r = await api('GET', `/api/review?${lq}`);
        if (g !== gen)
            return;
        renderQueue(r, q);
        agreement(q);
    } catch (err) {
        if (g !== gen)
            return;
        fill($('rv-queue'));
        showError($('rv-error'), err, 'Could not draw the queue.');
    }
}

function fillMetrics(current) {
    const names = metricNames.length ? metricNames : [current].filter(Boolean);
    fill($('rv-metric'), names.map((m) => h('option', {value: m}, human(m))));
    if (current)
        $('rv-metric').value = current;
}

export function init() {
    $('rv-labeler').value = labeler();
    $('rv-labeler').addEventListener('change', () => setLabeler($('rv-labeler').value.trim()));
    on('health', (hl) => {
        const m = hl && hl.judge && Array.isArray(hl.judge.metrics) ? hl.judge.metrics : [];
        if (JSON.stringify(m) !== JSON.stringify(metricNames)) {
            const cur = $('rv-metric').value;
            metricNames = m;
            fillMetrics(cur);
        }
    });
    $('review-form').addEventListener('submit', (e) => {
        e.preventDefault();
        setLabeler($('rv-labeler').value.trim());
        if (!labeler()) {
            showError($('rv-error'), {words: 'Enter your name as labeler: each label records who gave it.'});
            $('rv-labeler').focus();
            return;
        }
        const q = params();
        $('rv-seed').value = q.get('seed');
        setHash(`#/review?${q}`);
    });
}

export function show(q) {
    gen++;
    datasets.fillSelect($('rv-dataset'), datasets.known(), q.get('dataset') || '');
    fillMetrics(q.get('metric') || $('rv-metric').value);
    for (const [id, k] of [['rv-mode', 'mode'], ['rv-n', 'n'], ['rv-seed', 'seed']])
        if (q.get(k))
            $(id).value = q.get(k);
    $('rv-labeler').value = labeler();
    fill($('rv-agree'));
    if (q.get('metric'))
        load(q);
    else {
        fill($('rv-queue'), h('p', {class: 'muted'}, 'Pick a dataset, a metric and how to choose rows, then draw.'));
        fill($('rv-how'));
        fill($('rv-progress'));
        $('rv-progress-bar').value = 0;
    }
}

export function hide() {
    gen++;
}
