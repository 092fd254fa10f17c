// label.js - a person's label beside the judge's score: the labeler's name
// (kept in this browser), each metric's label scale, and the control that
// stores a label (POST /api/eval/{id}/labels). Used by the detail view and
// the review queue. Keyboard on a focused control: a digit or y/n picks a
// value, Enter stores it and moves on (the caller's next()).

import {api} from './api.js';
import {fill, fmtScore, h, human, showError} from './dom.js';

const NAME_KEY = 'ragrade.labeler';

export function labeler() {
    try {
        return localStorage.getItem(NAME_KEY) || '';
    } catch (e) {
        return '';
    }
}

export function setLabeler(name) {
    try {
        if (name)
            localStorage.setItem(NAME_KEY, name);
        else
            localStorage.removeItem(NAME_KEY);
    } catch (e) {
        // storage refused: the name lasts as long as the page
    }
}

// The server's scales (labels.c): binary 0/1, levels 1-5, else 0 to 1.
export function labelScale(metric) {
    if (metric === 'exact_match' || metric === 'string_presence')
        return {kind: 'binary', lo: 0, hi: 1, choices: [[1, 'Yes'], [0, 'No']]};
    if (metric === 'correctness')
        return {kind: 'levels', lo: 1, hi: 5, choices: [1, 2, 3, 4, 5].map((v) => [v, String(v)])};
    return {kind: 'unit', lo: 0, hi: 1, choices: [0, 0.25, 0.5, 0.75, 1].map((v) => [v, String(v)])};
}

// The value a key stands for on this scale, or null.
export function keyValue(scale, key) {
    const k = key.toLowerCase();
    if (k === 'y')
        return scale.hi;
    if (k === 'n')
        return scale.lo;
    if (!/^[0-9]$/.test(k))
        return null;
    const d = Number(k);
    if (scale.kind === 'binary')
        return d <= 1 ? d : null;
    if (scale.kind === 'levels')
        return d >= scale.lo && d <= scale.hi ? d : null;
    return d / 10;            // 0-9: 0.0 to 0.9; y: 1
}

function keysHint(scale) {
    return scale.kind === 'binary' ? 'y or 1: yes · n or 0: no · Enter: save, next'
        : scale.kind === 'levels' ? `${scale.lo}-${scale.hi}: level · Enter: save, next`
            : '0-9: 0.0-0.9 · y: 1 · n: 0 · Enter: save, next';
}

// A label control. o: {id, metric, value (this labeler's current label or
// null), sampled, next(), saved(value)}. Returns the element; next may also
// be set on it afterwards (el.next).
export function labelControl(o) {
    const scale = labelScale(o.metric);
    let pending = o.value ?? null;
    const status = h('span', {class: 'label-status', role: 'status'});
    const input = h('input', {type: 'number', class: 'label-num', min: scale.lo, max: scale.hi,
        step: scale.kind === 'unit' ? '0.05' : '1', 'aria-label': `Your ${human(o.metric)} value`,
        value: pending ?? ''});
    const buttons = scale.choices.map(([v, text]) => h('button', {type: 'button', class: 'btn btn-small label-btn',
        'data-value': v, 'aria-pressed': String(pending === v), on: {click: () => save(v)}}, text));
    const el = h('div', {class: 'label-ctl', role: 'group', tabindex: '0', 'data-metric': o.metric,
        'aria-label': `Your label for ${human(o.metric)} (${keysHint(scale)})`},
    h('span', {class: 'label-h'}, 'Your label'), buttons,
    scale.kind === 'unit' ? input : null,
    h('span', {class: 'label-keys muted small'}, keysHint(scale)), status);

    function mark(v) {
        pending = v;
        for (const b of buttons)
            b.setAttribute('aria-pressed', String(Number(b.getAttribute('data-value')) === v));
        if (scale.kind === 'unit')
            input.value = v === null ? '' : String(v);
        el.classList.toggle('label-done', v !== null && v === o.value);
    }

    async function save(v, thenNext) {
        if (v === null || v === '' || !isFinite(Number(v))) {
            fill(status, 'Pick a value first.');
            return;
        }
        v = Number(v);
        const who = labeler();
        if (!who) {
            fill(status, 'Enter your name as labeler first.');
            return;
        }
        mark(v);
        fill(status, 'Saving…');
        try {
            await api('POST', `/api/eval/${o.id}/labels`, {metric: o.metric, value: v, labeler: who,
                sampled: !!o.sampled});
            o.value = v;
            mark(v);
            fill(status, `Saved: ${fmtScore(v)}`);
            if (o.saved)
                o.saved(v);
            const next = o.next || el.next;
            if (thenNext && next)
                next();
        } catch (err) {
            showError(status, err, 'Not saved.');
        }
    }

    el.addEventListener('keydown', (e) => {
        if (e.target === input && e.key !== 'Enter')
            return;
        if (e.key === 'Enter') {
            e.preventDefault();
            save(e.target === input ? input.value : pending, true);
            return;
        }
        if (e.ctrlKey || e.metaKey || e.altKey)
            return;
        const v = keyValue(scale, e.key);
        if (v !== null) {
            e.preventDefault();
            mark(v);
            fill(status, `${fmtScore(v)}: Enter to save`);
        }
    });
    mark(pending);
    return el;
}
