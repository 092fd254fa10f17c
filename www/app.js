// app.js - the page's entry point, and the top of the import graph: the
// table of views and hash routing between them, the judge's health in the
// header, and the wiring of the hub's events. No module imports this one.
//
// Adding a view: write a module with init(), show(arg) and hide() that
// imports only lower modules (api, dom, hub, nav, datasets, poll, render, label),
// add its <section id="view-..."> to index.html (and a [data-nav] link if it
// has one), and add a row to VIEWS below.

import {api} from './api.js';
import {$, fill, h} from './dom.js';
import * as datasets from './datasets.js';
import {emit, on} from './hub.js';
import {takeFlash} from './nav.js';
import * as token from './token.js';
import * as list from './list.js';
import * as form from './form.js';
import * as detail from './detail.js';
import * as summary from './summary.js';
import * as review from './review.js';
import * as compare from './compare.js';
import * as criteria from './criteria.js';

// path: matched against the hash's path (#/eval/12?x=1 -> "/eval/12");
// arg(match, query) is what the view's show() gets (default: the query).
// The first row is also where an unknown hash lands.
const VIEWS = [
    {path: /^\/?$/, el: 'view-list', mod: list, title: 'Evaluations', nav: 'list'},
    {path: /^\/new$/, el: 'view-new', mod: form, title: 'New evaluation', nav: 'new'},
    {path: /^\/eval\/([1-9][0-9]{0,17})$/, el: 'view-detail', mod: detail, title: 'Evaluation', nav: 'list',
        arg: (m) => m[1]},
    {path: /^\/summary$/, el: 'view-summary', mod: summary, title: 'Summary', nav: 'summary'},
    {path: /^\/review$/, el: 'view-review', mod: review, title: 'Review', nav: 'review'},
    {path: /^\/compare$/, el: 'view-compare', mod: compare, title: 'Compare runs', nav: 'compare'},
    {path: /^\/criteria$/, el: 'view-criteria', mod: criteria, title: 'Criteria', nav: 'criteria'},
];

let active = null;
let activeArg = null;
let routed = false;

function renderPill(health) {
    const j = health && health.judge || {};
    const st = j.state || 'unknown';
    const pill = $('judge-pill');
    pill.className = `pill pill-${st}`;
    fill(pill, `judge: ${st}`);
    pill.title = `Judge ${j.backend || ''} ${j.model || ''}: ${st}${j.error ? ' (' + j.error + ')' : ''}`;
    pill.setAttribute('aria-label', `Judge ${st}${j.error ? ': ' + j.error : ''}. Open the summary.`);
}

async function refreshHealth() {
    if (document.hidden)
        return;
    try {
        emit('health', await api('GET', '/api/health'));
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
    for (const v of VIEWS) {
        const m = v.path.exec(path);
        if (m)
            return {view: v, arg: v.arg ? v.arg(m, q) : q};
    }
    return {view: VIEWS[0], arg: new URLSearchParams(), unknown: raw};
}

// Show the hash's view. quiet: the same view again (a new token), without
// moving focus or the flash.
function route(quiet) {
    const r = parse();
    if (!r)
        return;
    if (active)
        active.mod.hide();
    for (const v of VIEWS)
        $(v.el).hidden = v !== r.view;
    for (const a of document.querySelectorAll('[data-nav]'))
        if (a.getAttribute('data-nav') === r.view.nav)
            a.setAttribute('aria-current', 'page');
        else
            a.removeAttribute('aria-current');
    active = r.view;
    activeArg = r.arg;
    document.title = `${r.view.title} · ragrade`;
    if (!quiet) {
        const fl = $('flash');
        const msg = r.unknown ? `There is no page at ${r.unknown}; here are the evaluations.` : takeFlash();
        fill(fl, msg || '');
        fl.hidden = !msg;
    }
    r.view.mod.show(activeArg);
    // After a navigation (not the first load), move focus to the new view's
    // heading so keyboard and screen-reader users land in it.
    if (routed && !quiet) {
        const h1 = $(r.view.el).querySelector('h1');
        if (h1 && !$(r.view.el).contains(document.activeElement))
            h1.focus({preventScroll: true});
        window.scrollTo(0, 0);
    }
    routed = true;
}

function boot() {
    token.init();
    for (const v of VIEWS)
        v.mod.init();
    on('health', renderPill);
    on('activity', (a) => datasets.seen([a && a.dataset]));
    on('datasets', (names) => fill($('datasets'), names.map((d) => h('option', {value: d}))));
    on('reroute', () => route(false));
    // A new token: everything that was refused may work now.
    on('token', () => {
        refreshHealth();
        datasets.refresh();
        route(true);
    });
    window.addEventListener('hashchange', () => route(false));
    document.addEventListener('visibilitychange', refreshHealth);
    setInterval(refreshHealth, 15000);
    refreshHealth();
    datasets.refresh();
    route(false);
}

if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', boot);
else
    boot();
