// datasets.js - the names of the datasets the server knows (from
// /api/summary), for the filters' choices and the form's suggestions.
// A change is announced as `datasets` on the hub.

import {api} from './api.js';
import {clear, h} from './dom.js';
import {emit} from './hub.js';

let names = [];

export function known() {
    return names;
}

export async function refresh() {
    let s;
    try {
        s = await api('GET', '/api/summary');
    } catch (e) {
        return;              // the views report their own errors
    }
    const got = (s.datasets || []).map((d) => d.dataset).filter((d) => typeof d === 'string' && d).sort();
    if (JSON.stringify(got) === JSON.stringify(names))
        return;
    names = got;
    emit('datasets', names);
}

// Some of these were seen in data: refresh if any is new to us.
export function seen(list) {
    if (list.some((d) => typeof d === 'string' && d && !names.includes(d)))
        refresh();
}

// The run names of a dataset (of every dataset when it is ''), newest first,
// from /api/runs; [] when the call fails (the views report their own errors).
export async function runs(dataset) {
    try {
        const r = await api('GET', `/api/runs${dataset ? '?dataset=' + encodeURIComponent(dataset) : ''}`);
        return [...new Set((r.runs || []).map((x) => x.run).filter((x) => typeof x === 'string' && x))];
    } catch (e) {
        return [];
    }
}

// A <select> of runs: "All runs" and each name, current kept chosen.
export function fillRuns(sel, list, current) {
    clear(sel);
    sel.appendChild(h('option', {value: ''}, 'All runs'));
    const all = list.slice();
    if (current && !all.includes(current))
        all.push(current);
    for (const n of all)
        sel.appendChild(h('option', {value: n}, n));
    sel.value = current || '';
}

// A <select> with "All datasets" and each name; current stays chosen even
// when the server does not know it (yet).
export function fillSelect(sel, list, current) {
    const want = current || '';
    clear(sel);
    sel.appendChild(h('option', {value: ''}, 'All datasets'));
    const all = list.slice();
    if (want && !all.includes(want))
        all.push(want);
    for (const n of all)
        sel.appendChild(h('option', {value: n}, n));
    sel.value = want;
}
