// app.js - the page's entry point: hash routing between the views
// (#/ list, #/new, #/eval/{id}, #/summary), the judge's health in the
// header, the list of known datasets, and one-shot flash messages.

import {api} from './api.js';
import {$, fill, h} from './dom.js';
import * as list from './list.js';
import * as form from './form.js';
import * as detail from './detail.js';
import * as summary from './summary.js';

const VIEWS = {
    list: {el: 'view-list', mod: list, title: 'Evaluations', nav: 'list'},
    new: {el: 'view-new', mod: form, title: 'New evaluation', nav: 'new'},
    detail: {el: 'view-detail', mod: detail, title: 'Evaluation', nav: 'list'},
    summary: {el: 'view-summary', mod: summary, title: 'Summary', nav: 'summary'},
};

let active = null;
let datasets = [];
let pendingFlash = null;
let routed = false;

export function knownDatasets() {
    return datasets;
}

export function setHash(hash) {
    if (location.hash === hash)
        route();
    else
        location.hash = hash;
}

export function flash(msg) {
    pendingFlash = msg;
}

// Something was submitted, retried or deleted: refresh what depends on it.
export function activity(dataset) {
    if (dataset && !datasets.includes(dataset))
        datasetsChanged();
    list.kick();
}

export async function datasetsChanged() {
    try {
        const s = await api('GET', '/api/summary');
        datasets = (s.datasets || []).map((d) => d.dataset).filter((d) => typeof d === 'string' && d).sort();
    } catch (e) {
        return;              // the views report their own errors
    }
    fill($('datasets'), datasets.map((d) => h('option', {value: d})));
    if (active === VIEWS.list)
        list.refreshFilters();
}

export function setHealth(health) {
    const j = health && health.judge || {};
    const st = j.state || 'unknown';
    const pill = $('judge-pill');
    pill.className = `pill pill-${st}`;
    fill(pill, `judge: ${st}`);
    pill.title = `Judge ${j.backend || ''} ${j.model || ''}: ${st}${j.error ? ' (' + j.error + ')' : ''}`;
    pill.setAttribute('aria-label', `Judge ${st}${j.error ? ': ' + j.error : ''}. Open the summary.`);
    form.setMetrics(health);
}

async function refreshHealth() {
    if (document.hidden)
        return;
    try {
        setHealth(await api('GET', '/api/health'));
    } catch (e) {
        const pill = $('judge-pill');
        pill.className = 'pill pill-failed';
        fill(pill, 'server unreachable');
        pill.title = e.words || String(e);
        pill.setAttribute('aria-label', pill.title);
        if (!$('r-metrics').hasAttribute('data-for'))
            fill($('r-metrics-hint'), `${e.words} The judge's defaults will be used.`);
    }
}

function parse() {
    const raw = location.hash || '#/';
    if (!raw.startsWith('#/'))
        return null;         // an in-page anchor such as the skip link
    const [path, qs] = raw.slice(1).split('?');
    const q = new URLSearchParams(qs || '');
    let m;
    if (path === '/' || path === '')
        return {view: VIEWS.list, arg: q};
    if (path === '/new')
        return {view: VIEWS.new, arg: q};
    if (path === '/summary')
        return {view: VIEWS.summary, arg: q};
    if ((m = /^\/eval\/([1-9][0-9]{0,17})$/.exec(path)))
        return {view: VIEWS.detail, arg: m[1]};
    return {view: VIEWS.list, arg: new URLSearchParams(), unknown: raw};
}

function route() {
    const r = parse();
    if (!r)
        return;
    if (active && active !== r.view)
        active.mod.hide();
    for (const v of Object.values(VIEWS))
        $(v.el).hidden = v !== r.view;
    for (const a of document.querySelectorAll('[data-nav]'))
        if (a.getAttribute('data-nav') === r.view.nav)
            a.setAttribute('aria-current', 'page');
        else
            a.removeAttribute('aria-current');
    active = r.view;
    document.title = `${r.view.title} · ragrade`;
    const fl = $('flash');
    if (r.unknown)
        pendingFlash = `There is no page at ${r.unknown}; here are the evaluations.`;
    fill(fl, pendingFlash || '');
    fl.hidden = !pendingFlash;
    pendingFlash = null;
    r.view.mod.show(r.arg);
    // After a navigation (not the first load), move focus to the new view's
    // heading so keyboard and screen-reader users land in it.
    if (routed) {
        const h1 = $(r.view.el).querySelector('h1');
        if (h1 && !$(r.view.el).contains(document.activeElement))
            h1.focus({preventScroll: true});
        window.scrollTo(0, 0);
    }
    routed = true;
}

function boot() {
    list.init();
    form.init();
    detail.init();
    summary.init();
    window.addEventListener('hashchange', route);
    document.addEventListener('visibilitychange', refreshHealth);
    setInterval(refreshHealth, 15000);
    refreshHealth();
    datasetsChanged();
    route();
}

if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', boot);
else
    boot();
