// token.js - the token box under the header: it asks for a bearer token when
// a call is refused for want of one (the `auth` event names the role), keeps
// it in this tab's sessionStorage through api.js, and announces `token` when
// it is saved or forgotten so that the views load again.

import {getToken, setToken} from './api.js';
import {$, fill} from './dom.js';
import {emit, on} from './hub.js';

let dismissed = false;       // closed by the person: reads that fail do not reopen it

function state() {
    const has = !!getToken();
    fill($('t-state'), has ? 'A token is saved for this tab.' : 'No token saved.');
    fill($('token-btn'), has ? 'Token ✓' : 'Token');
    $('token-btn').setAttribute('aria-label', has ? 'Token: one is saved for this tab' : 'Token: none saved');
}

function open(focus) {
    $('token-box').hidden = false;
    $('token-btn').setAttribute('aria-expanded', 'true');
    if (focus)
        $('t-token').focus();
}

function close() {
    dismissed = true;
    $('token-box').hidden = true;
    $('token-btn').setAttribute('aria-expanded', 'false');
    $('token-btn').focus();
}

// A call was refused: say which role it needs and ask for a token. Focus
// moves to the box only when it opens, so a poll that keeps failing does not
// pull focus back again and again; once closed, only an action (a submit,
// a retry) opens it again, while the views' reads show their own errors.
function refused(err) {
    if (dismissed && (err.method === 'GET' || err.method === 'HEAD')) {
        fill($('token-btn'), 'Token needed');
        $('token-btn').setAttribute('aria-label', `Token: needed. ${err.words}`);
        return;
    }
    fill($('t-need'), err.words);
    $('t-need').hidden = false;
    $('token-box').setAttribute('data-role', err.role || '');
    const wasHidden = $('token-box').hidden;
    open(false);
    if (wasHidden && !$('token-box').contains(document.activeElement))
        $('t-token').focus({preventScroll: true});
}

export function init() {
    state();
    on('auth', refused);
    $('token-btn').addEventListener('click', () => {
        if ($('token-box').hidden) {
            dismissed = false;
            open(true);
        }
        else
            close();
    });
    $('t-close').addEventListener('click', close);
    $('token-form').addEventListener('submit', (e) => {
        e.preventDefault();
        const t = $('t-token').value.trim();
        if (!t) {
            fill($('t-state'), 'Enter a token first.');
            $('t-token').focus();
            return;
        }
        setToken(t);
        dismissed = false;
        $('t-token').value = '';
        $('t-need').hidden = true;
        state();
        emit('token', t);
    });
    $('t-forget').addEventListener('click', () => {
        setToken('');
        $('t-need').hidden = true;
        state();
        emit('token', '');
    });
}
