// dom.js - building elements and formatting values. Every string from the
// server or the user goes in as a text node or an attribute value, never as
// markup: nothing here parses HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, kids) {
    for (const k of kids) {
        if (k === null || k === undefined || k === false)
            continue;
        if (Array.isArray(k))
            append(el, k);
        else if (k instanceof Node)
            el.appendChild(k);
        else
            el.appendChild(document.createTextNode(String(k)));
    }
    return el;
}

// h('a', {href: '#/', class: 'x', on: {click: fn}}, 'text', child, ...)
export function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false)
            continue;
        if (k === 'on')
            for (const [ev, fn] of Object.entries(v))
                el.addEventListener(ev, fn);
        else if (k === 'value' || k === 'checked')
            el[k] = v;
        else
            el.setAttribute(k, v === true ? '' : String(v));
    }
    return append(el, kids);
}

export function svg(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {}))
        el.setAttribute(k, String(v));
    return append(el, kids);
}

export function $(id) {
    return document.getElementById(id);
}

export function clear(el) {
    while (el.firstChild)
        el.removeChild(el.firstChild);
    return el;
}

export function fill(el, ...kids) {
    return append(clear(el), kids);
}

export function show(el, on) {
    el.hidden = !on;
}

export function shorten(s, n) {
    s = String(s ?? '').replace(/\s+/g, ' ').trim();
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// A score: up to three decimals, or a dash for null.
export function fmtScore(v) {
    if (v === null || v === undefined)
        return '—';
    if (typeof v !== 'number' || !isFinite(v))
        return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}

export function fmtInt(v) {
    return typeof v === 'number' ? v.toLocaleString('en') : '—';
}

export function parseTime(iso) {
    const t = iso ? Date.parse(iso) : NaN;
    return isNaN(t) ? null : t;
}

export function fmtDuration(ms) {
    if (ms === null || ms < 0)
        return '—';
    if (ms < 1000)
        return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60)
        return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
    const m = Math.floor(s / 60);
    if (m < 60)
        return `${m} min ${Math.round(s % 60)} s`;
    const hr = Math.floor(m / 60);
    if (hr < 48)
        return `${hr} h ${m % 60} min`;
    return `${Math.floor(hr / 24)} days`;
}

export function fmtAge(iso, now = Date.now()) {
    const t = parseTime(iso);
    if (t === null)
        return '—';
    const s = Math.max(0, Math.round((now - t) / 1000));
    if (s < 5)
        return 'just now';
    if (s < 60)
        return `${s} s ago`;
    if (s < 3600)
        return `${Math.floor(s / 60)} min ago`;
    if (s < 172800)
        return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} days ago`;
}

export function fmtTime(iso) {
    const t = parseTime(iso);
    if (t === null)
        return '—';
    return new Date(t).toLocaleString('en-GB', {
        year: 'numeric', month: 'short', day: 'numeric',
        hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
}

export function badge(status) {
    const known = ['queued', 'running', 'done', 'failed'];
    const s = known.includes(status) ? status : 'unknown';
    return h('span', {class: `badge badge-${s}`}, status || 'unknown');
}

// "answer_relevancy" -> "answer relevancy"
export function human(key) {
    return String(key).replace(/_/g, ' ');
}

// Show an ApiError (or any error) in words inside el, with the server's own
// message underneath when it adds something.
export function showError(el, err, lead) {
    const words = err && err.words ? err.words : `Something went wrong: ${err && err.message || err}`;
    const kids = [];
    if (lead)
        kids.push(h('strong', null, lead + ' '));
    kids.push(words);
    if (err && err.detail && err.status !== 400 && !words.includes(err.detail))
        kids.push(h('span', {class: 'detail'}, `Server said: ${err.detail}`));
    fill(el, ...kids);
    el.hidden = false;
}
