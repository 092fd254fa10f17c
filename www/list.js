// list.js - the live table of recent evaluations (#/?status=&dataset=&run=&before=):
// filters and pages live in the hash, so a view is linkable; a Poller keeps
// it fresh without reloading.

import {api} from './api.js';
import {$, badge, clear, fill, fmtAge, fmtScore, h, human, shorten, showError} from './dom.js';
import {Poller} from './poll.js';
import * as datasets from './datasets.js';
import {on} from './hub.js';
import {setHash} from './nav.js';

const PAGE = 25;
let params = {status: '', dataset: '', run: '', before: ''};
let newer = [];              // the `before` of each page we came from
let gen = 0;
let lastItems = [];
let nextBefore = null;
let shown = false;
const poller = new Poller(load, liveState);

function query() {
    const q = new URLSearchParams({limit: String(PAGE)});
    if (params.status)
        q.set('status', params.status);
    if (params.dataset)
        q.set('dataset', params.dataset);
    if (params.run)
        q.set('run', params.run);
    if (params.before)
        q.set('before', params.before);
    return q.toString();
}

function scoreChips(scores) {
    const names = Object.keys(scores || {});
    if (!names.length)
        return h('span', {class: 'muted'}, '—');
    return h('ul', {class: 'chips'}, names.map((m) =>
        h('li', {class: 'chip' + (scores[m] === null ? ' chip-null' : '')},
            h('span', {class: 'chip-k'}, human(m)), ' ', h('span', {class: 'chip-v'}, fmtScore(scores[m])))));
}

function rowFor(it) {
    const href = `#/eval/${it.id}`;
    const q = shorten(it.question, 90) || '(no question)';
    const tr = h('tr', {'data-id': it.id, 'data-status': it.status, class: 'row-link'},
        h('td', {class: 'num'}, h('a', {href, 'aria-label': `Evaluation ${it.id}`}, `#${it.id}`)),
        h('td', {class: 'q'}, h('a', {href, class: 'q-link', title: it.question || ''}, q),
            it.last_error ? h('div', {class: 'row-err'}, shorten(it.last_error, 90)) : null),
        h('td', null, badge(it.status), it.attempts > 1 ? h('span', {class: 'muted small'}, ` ×${it.attempts}`) : null),
        h('td', null, it.dataset ? h('span', {class: 'ds'}, it.dataset) : h('span', {class: 'muted'}, '—'),
            it.run ? h('span', {class: 'run-tag', title: it.item ? `item ${it.item}` : null}, `run ${it.run}`) : null),
        h('td', null, scoreChips(it.scores)),
        h('td', {class: 'age', 'data-created': it.created_at || ''}, fmtAge(it.created_at)));
    // A click anywhere on the row opens it; keyboard users have the links.
    tr.addEventListener('click', (e) => {
        if (!(e.target instanceof Element) || !e.target.closest('a'))
            location.hash = href;
    });
    return tr;
}

function render(items) {
    const body = $('list-body');
    const focusedId = document.activeElement && document.activeElement.closest &&
        document.activeElement.closest('#list-body tr') ?
        document.activeElement.closest('tr').getAttribute('data-id') : null;
    const focusedQ = focusedId && document.activeElement.classList.contains('q-link');
    fill(body, items.map(rowFor));
    if (focusedId) {
        const tr = body.querySelector(`tr[data-id="${CSS.escape(focusedId)}"]`);
        const a = tr && tr.querySelector(focusedQ ? 'a.q-link' : 'a');
        if (a)
            a.focus();
    }
    $('list-empty').hidden = items.length > 0;
}

function renderPager() {
    $('page-newer').disabled = !params.before;
    $('page-newest').disabled = !params.before;
    $('page-older').disabled = !nextBefore;
    const n = lastItems.length;
    fill($('page-info'), n ? `#${lastItems[0].id} – #${lastItems[n - 1].id}` : '');
}

function updateAges() {
    const now = Date.now();
    for (const td of $('list-body').querySelectorAll('td.age'))
        td.textContent = fmtAge(td.getAttribute('data-created'), now);
}

async function load() {
    const g = gen;
    const data = await api('GET', `/api/eval?${query()}`);
    if (g !== gen)
        return 'stale';
    $('list-error').hidden = true;
    const items = Array.isArray(data.items) ? data.items : [];
    const sig = JSON.stringify(items.map((i) => [i.id, i.status, i.updated_at, i.scores, i.attempts]));
    nextBefore = data.next_before || null;
    if (sig !== JSON.stringify(lastItems.map((i) => [i.id, i.status, i.updated_at, i.scores, i.attempts])) ||
        !$('list-body').firstChild) {
        lastItems = items;
        render(items);
        // A dataset we have not seen yet: refresh the filter's choices.
        datasets.seen(items.map((i) => i.dataset));
    } else {
        updateAges();
    }
    renderPager();
    return sig;
}

function liveState(s) {
    const live = $('live');
    live.classList.toggle('live-err', !!s.error);
    live.classList.toggle('live-paused', !!s.paused);
    if (s.error) {
        showError($('list-error'), s.error, 'Live updates are failing.');
        fill($('live-text'), `Retrying in ${Math.round(s.delay / 1000)} s`);
    } else if (s.paused) {
        fill($('live-text'), 'Paused');
    } else {
        fill($('live-text'), 'Live');
    }
}

async function refreshFilters() {
    datasets.fillSelect($('f-dataset'), datasets.known(), params.dataset);
    const g = gen;
    datasets.fillRuns($('f-run'), [], params.run);
    const names = await datasets.runs(params.dataset);
    if (g === gen)
        datasets.fillRuns($('f-run'), names, params.run);
}

function go(p) {
    const q = new URLSearchParams();
    for (const k of ['status', 'dataset', 'run', 'before'])
        if (p[k])
            q.set(k, p[k]);
    const s = q.toString();
    setHash(s ? `#/?${s}` : '#/');
}

export function init() {
    on('datasets', () => {
        if (shown)
            refreshFilters();
    });
    on('activity', () => {
        if (shown)
            poller.kick();
    });
    $('list-filters').addEventListener('submit', (e) => e.preventDefault());
    $('f-status').addEventListener('change', () => {
        newer = [];
        go({...params, status: $('f-status').value, before: ''});
    });
    $('f-dataset').addEventListener('change', () => {
        newer = [];
        go({...params, dataset: $('f-dataset').value, run: '', before: ''});
    });
    $('f-run').addEventListener('change', () => {
        newer = [];
        go({...params, run: $('f-run').value, before: ''});
    });
    $('page-older').addEventListener('click', () => {
        if (!nextBefore)
            return;
        newer.push(params.before);
        go({...params, before: String(nextBefore)});
    });
    $('page-newer').addEventListener('click', () => {
        go({...params, before: newer.length ? newer.pop() : ''});
    });
    $('page-newest').addEventListener('click', () => {
        newer = [];
        go({...params, before: ''});
    });
}

export function show(q) {
    const p = {status: q.get('status') || '', dataset: q.get('dataset') || '', run: q.get('run') || '',
        before: q.get('before') || ''};
    if (!p.before || p.status !== params.status || p.dataset !== params.dataset || p.run !== params.run)
        newer = [];
    params = p;
    shown = true;
    gen++;
    $('f-status').value = params.status;
    refreshFilters();
    lastItems = [];
    clear($('list-body'));
    $('list-empty').hidden = true;
    $('list-error').hidden = true;
    poller.start();
}

export function hide() {
    shown = false;
    gen++;
    poller.stop();
}
