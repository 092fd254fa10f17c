// api.js - calls to /api/ and the words a person reads when one fails.
// Every failure becomes an ApiError whose .words say what happened and what
// to do; .field names the input at fault when the server said which. The
// tab's bearer token (sessionStorage) goes with every call; a refusal for
// want of a token or of a role says which role, and is announced as `auth`
// on the hub so that the token box can ask for one.

import {emit} from './hub.js';

const TOKEN_KEY = 'ragrade.token';

export function getToken() {
    try {
        return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
        return '';
    }
}

export function setToken(t) {
    try {
        if (t)
            sessionStorage.setItem(TOKEN_KEY, t);
        else
            sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) {
        // storage refused (private mode): the token lasts as long as the page
    }
}

export class ApiError extends Error {
    constructor(status, code, message, field, words) {
        super(words);
        this.status = status;     // HTTP status, 0 for a network failure
        this.code = code;         // the server's error code, if any
        this.detail = message;    // the server's own message, if any
        this.field = field;       // e.g. "question" or "[3].contexts[2]"
        this.words = words;
        this.role = null;         // for a 401/403: the role the call needs
    }
}

// "[3].contexts[2]" -> "row 4, context 3"; "ground_truth" -> "ground truth".
export function fieldWords(field) {
    if (!field)
        return '';
    const parts = [];
    let rest = String(field);
    const m = /^\[(\d+)\]\.?/.exec(rest);
    if (m) {
        parts.push(`row ${Number(m[1]) + 1}`);
        rest = rest.slice(m[0].length);
    }
    const f = /^([A-Za-z_]+)(?:\[(\d+)\])?$/.exec(rest);
    if (f) {
        const names = {
            question: 'question', user_input: 'question', answer: 'answer', response: 'answer',
            contexts: 'contexts', retrieved_contexts: 'contexts', ground_truth: 'ground truth',
            reference: 'ground truth', reference_contexts: 'reference contexts', metrics: 'metrics',
            dataset: 'dataset',
        };
        const one = {contexts: 'context', reference_contexts: 'reference context', metrics: 'metric'};
        let name = names[f[1]] || f[1].replace(/_/g, ' ');
        if (f[2] !== undefined)
            name = `${one[f[1]] || name} ${Number(f[2]) + 1}`;
        parts.push(f[2] === undefined && !parts.length ? `the ${name}` : name);
    } else if (rest) {
        parts.push(rest);
    }
    return parts.join(', ');
}

const BY_STATUS = {
    400: 'The server did not accept the input.',
    401: 'The server asks for a token: enter it under “Token” at the top of the page.',
    403: 'The server refused this action.',
    404: 'Not found: there is no such evaluation (it may have been deleted).',
    405: 'The server does not allow this action.',
    409: 'That cannot be done right now.',
    411: 'The request was sent without its length; try again.',
    413: 'That is too large for the server: split the file into smaller batches.',
    415: 'The server only accepts JSON.',
    422: 'The server could not process this request.',
    429: 'Too many requests: the server asked to slow down. Wait a moment and try again.',
    500: 'The server hit an internal error.',
    502: 'The ragrade service is not answering just now; try again shortly.',
    503: 'The ragrade service is unavailable just now (database or worker pool busy); try again shortly.',
    504: 'The ragrade service took too long to answer; try again shortly.',
};

const BY_CODE = {
    disk_full: 'The server’s disk is full: nothing was stored.',
    database_busy: 'The database is busy: nothing was stored; try again.',
    database_unavailable: 'The database cannot be used just now; try again shortly.',
    pool_unavailable: 'The ragrade worker pool is not answering; try again shortly.',
    out_of_memory: 'The server is out of memory; try again shortly.',
    idempotency_key_reused: 'This submission key was already used for different rows.',
    rate_limited: BY_STATUS[429],
    body_too_large: BY_STATUS[413],
    conflict: BY_STATUS[409],
    admin_disabled: 'Retry and delete are off on this server until an admin token is configured ' +
        '(auth.admin_tokens): ask its operator.',
};

// What each role may do, for the words; the server's roles, weakest first.
const ROLE_WORDS = {
    read: 'a token with the read role (a submit or admin token works too)',
    submit: 'a token with the submit role (an admin token works too)',
    admin: 'a token with the admin role',
};
const ROLE_DOES = {read: 'Reading evaluations', submit: 'Submitting rows', admin: 'Retry and delete'};

// The role a call needs, as the server's routes say (auth.h): the server's
// own message names it, this is for when it does not.
export function roleFor(method, path) {
    const p = path.split('?')[0];
    if (method === 'POST' && (p === '/api/eval' || /\/labels$/.test(p)))
        return 'submit';
    if (method === 'DELETE' || /\/retry$/.test(p))
        return 'admin';
    return 'read';
}

function roleIn(message) {
    const m = /\b(read|submit|admin) role\b/.exec(message || '');
    return m ? m[1] : null;
}

// Words for a 401 or 403 that a token would fix, naming the role.
function authWords(status, code, role) {
    const where = 'under “Token” at the top of the page';
    if (status === 401 && code === 'invalid_token')
        return getToken() ? `The server did not accept the saved token. ${ROLE_DOES[role]} needs ` +
            `${ROLE_WORDS[role]}: check it ${where}.` : `The server did not accept the token: enter ${ROLE_WORDS[role]} ${where}.`;
    if (status === 401)
        return `${ROLE_DOES[role]} needs ${ROLE_WORDS[role]}: enter it ${where}.`;
    return `The saved token may not do this: ${ROLE_DOES[role].toLowerCase()} needs ${ROLE_WORDS[role]}. ` +
        `Enter one ${where}.`;
}

function wordsFor(status, code, message, field) {
    let w = BY_CODE[code] || BY_STATUS[status] ||
        (status >= 500 ? BY_STATUS[500] : `The request failed (HTTP ${status}).`);
    if (message)
        message = message.replace(/[.\s]+$/, '');
    if (status === 400 && message) {
        const where = fieldWords(field);
        w = `The server did not accept ${where || 'the input'}: ${message}.`;
    } else if ((status === 409 || status === 422) && message) {
        w = `${w} ${message[0].toUpperCase()}${message.slice(1)}.`;
    }
    return w;
}

// fetch JSON, with the tab's token if there is one; opts.key sends an
// Idempotency-Key.
export async function api(method, path, body, opts = {}) {
    const headers = {Accept: 'application/json'};
    if (body !== undefined)
        headers['Content-Type'] = 'application/json';
    if (getToken())
        headers.Authorization = `Bearer ${getToken()}`;
    if (opts.key)
        headers['Idempotency-Key'] = opts.key;
    let r;
    try {
        r = await fetch(path, {
            method, headers, cache: 'no-store', credentials: 'same-origin',
            body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
        });
    } catch (e) {
        throw new ApiError(0, 'network', String(e && e.message || e), null,
            'Cannot reach the ragrade server: check the network connection, or whether the service is running.');
    }
    const text = await r.text().catch(() => '');
    let data = null;
    if (text) {
        try {
            data = JSON.parse(text);
        } catch (e) {
            data = undefined;
        }
    }
    if (r.ok) {
        if (data === undefined)
            throw new ApiError(r.status, 'bad_response', null, null,
                `The server sent an answer this page cannot read (HTTP ${r.status}).`);
        return data;
    }
    const err = data && data.error && typeof data.error === 'object' ? data.error : {};
    const message = typeof err.message === 'string' ? err.message : null;
    const field = typeof err.field === 'string' ? err.field : null;
    if ((r.status === 401 || r.status === 403) && err.code !== 'admin_disabled') {
        const role = roleIn(message) || roleFor(method, path);
        const e = new ApiError(r.status, err.code || null, message, field, authWords(r.status, err.code, role));
        e.role = role;
        e.method = method;
        emit('auth', e);
        throw e;
    }
    throw new ApiError(r.status, err.code || null, message, field, wordsFor(r.status, err.code, message, field));
}
