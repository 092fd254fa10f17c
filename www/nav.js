// nav.js - moving between views: set the hash (showing the view again when
// the hash is already there), and a one-shot message for the next view.
// The routing itself is app.js's; it listens for `reroute` on the hub.

import {emit} from './hub.js';

let pending = null;

export function setHash(hash) {
    if (location.hash === hash)
        emit('reroute');
    else
        location.hash = hash;
}

// A message shown once, at the top of the next view shown.
export function flash(msg) {
    pending = msg;
}

export function takeFlash() {
    const m = pending;
    pending = null;
    return m;
}
