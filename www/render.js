// render.js - generic renderings: an LLM judge's reasoning (any JSON) as
// tables, lists and key/value pairs; a score bar; a ten-bin histogram as
// inline SVG. All values are put in as text.

import {fmtScore, h, human, svg} from './dom.js';

const VERDICT_KEYS = new Set(['verdict', 'attributed', 'noncommittal', 'passing', 'all_noncommittal']);

function isPlainObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function verdict(key, v) {
    // 1/0 or true/false under a verdict-like key: a yes/no pill.
    const yes = v === 1 || v === true;
    const words = key === 'verdict' ? (yes ? 'yes' : 'no')
        : key === 'attributed' ? (yes ? 'attributed' : 'not attributed')
            : (yes ? 'yes' : 'no');
    const good = key === 'noncommittal' || key === 'all_noncommittal' ? !yes : yes;
    return h('span', {class: `pill ${good ? 'pill-yes' : 'pill-no'}`}, words);
}

function scalar(key, v) {
    if (v === null || v === undefined)
        return h('span', {class: 'muted'}, '—');
    if (VERDICT_KEYS.has(key) && (v === 0 || v === 1 || typeof v === 'boolean'))
        return verdict(key, v);
    if (typeof v === 'number')
        return h('span', {class: 'num'}, fmtScore(v));
    if (typeof v === 'boolean')
        return document.createTextNode(v ? 'yes' : 'no');
    return h('span', {class: 'text'}, String(v));
}

// Any JSON value as DOM. depth bounds the nesting we lay out.
export function renderValue(v, key = '', depth = 0) {
    if (!Array.isArray(v) && !isPlainObject(v))
        return scalar(key, v);
    if (depth > 6)
        return h('code', {class: 'text'}, JSON.stringify(v));
    if (Array.isArray(v)) {
        if (v.length === 0)
            return h('span', {class: 'muted'}, 'none');
        if (v.every(isPlainObject)) {
            const cols = [];
            for (const o of v)
                for (const k of Object.keys(o))
                    if (!cols.includes(k))
                        cols.push(k);
            return h('div', {class: 'table-scroll'},
                h('table', {class: 'table table-reason'},
                    h('thead', null, h('tr', null, h('th', {scope: 'col', class: 'num'}, '#'),
                        cols.map((c) => h('th', {scope: 'col'}, human(c))))),
                    h('tbody', null, v.map((o, i) => h('tr', null,
                        h('td', {class: 'num muted'}, String(i + 1)),
                        cols.map((c) => h('td', null, renderValue(o[c], c, depth + 1))))))));
        }
        return h('ol', {class: 'list'}, v.map((x) => h('li', null, renderValue(x, key, depth + 1))));
    }
    const keys = Object.keys(v);
    if (keys.length === 0)
        return h('span', {class: 'muted'}, 'none');
    return h('dl', {class: 'kv kv-reason'}, keys.map((k) => [
        h('dt', null, human(k)),
        h('dd', null, renderValue(v[k], k, depth + 1)),
    ]));
}

// A reason: plain text for built-in metrics, JSON for the LLM judge's.
export function renderReason(reason, score) {
    if (reason === null || reason === undefined)
        return h('p', {class: 'muted reason'}, score === null ? 'No score and no reason recorded.'
            : 'Computed directly; this metric records no reasoning.');
    if (typeof reason === 'string')
        return h('p', {class: 'reason text'}, reason);
    return h('div', {class: 'reason'}, renderValue(reason));
}

// Where a score sits on its metric's scale, as a fraction of the bar.
export function scaleOf(metric) {
    return metric === 'correctness' ? {lo: 1, hi: 5} : {lo: 0, hi: 1};
}

export function scoreBar(metric, v) {
    const {lo, hi} = scaleOf(metric);
    const frac = typeof v === 'number' && isFinite(v) ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0;
    const tone = v === null || v === undefined ? 'null' : frac >= 0.7 ? 'good' : frac >= 0.4 ? 'mid' : 'bad';
    return svg('svg', {class: `bar bar-${tone}`, viewBox: '0 0 100 8', width: 100, height: 8,
        preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false'},
    svg('rect', {class: 'bar-bg', x: 0, y: 0, width: 100, height: 8, rx: 4}),
    svg('rect', {class: 'bar-fg', x: 0, y: 0, width: (frac * 100).toFixed(1), height: 8, rx: 4}));
}

// Ten counts over [0, 1] (correctness's 1-5 mapped onto it).
export function histogram(metric, counts) {
    const c = Array.isArray(counts) ? counts.map((x) => Number(x) || 0) : [];
    while (c.length < 10)
        c.push(0);
    const max = Math.max(1, ...c);
    const {lo, hi} = scaleOf(metric);
    const edge = (i) => fmtScore(Math.round((lo + (hi - lo) * i / 10) * 100) / 100);
    const label = `Distribution of ${human(metric)} scores: ` +
        c.map((n, i) => `${edge(i)} to ${edge(i + 1)}: ${n}`).join('; ');
    const W = 120, H = 32, base = 26;
    const bars = c.map((n, i) => {
        const bh = n ? Math.max(1.5, (n / max) * 24) : 0;
        return svg('rect', {class: 'hist-bar', x: i * 12 + 1, y: (base - bh).toFixed(2), width: 10,
            height: bh.toFixed(2), rx: 1},
        svg('title', null, `${edge(i)}–${edge(i + 1)}: ${n}`));
    });
    return svg('svg', {class: 'hist', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
        'aria-label': label},
    svg('title', null, label),
    svg('line', {class: 'hist-axis', x1: 0, y1: base + 0.5, x2: W, y2: base + 0.5}),
    bars,
    svg('text', {class: 'hist-lbl', x: 0, y: H - 0.5}, fmtScore(lo)),
    svg('text', {class: 'hist-lbl', x: W, y: H - 0.5, 'text-anchor': 'end'}, fmtScore(hi)));
}
