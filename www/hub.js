// hub.js - the page's one event hub. A module says what happened (a row was
// submitted, the judge's health arrived, the token changed, a call needs a
// token) and whoever cares listens, so that no view imports another view or
// the entry point. It imports nothing: it is the bottom of the import graph.
//
// Events and their data:
//   activity  {dataset}  something was submitted, retried or deleted
//   datasets  names[]    the list of known datasets changed
//   health    health     /api/health answered (the judge's state, metrics)
//   auth      ApiError   a call was refused for want of a token (401/403)
//   token     token      the tab's token was saved or forgotten
//   reroute   -          show the current hash's view again

const listeners = new Map();

export function on(name, fn) {
    if (!listeners.has(name))
        listeners.set(name, []);
    listeners.get(name).push(fn);
}

export function emit(name, data) {
    for (const fn of listeners.get(name) || []) {
        try {
            fn(data);
        } catch (e) {
            // one listener's failure must not stop the others
            setTimeout(() => { throw e; }, 0);
        }
    }
}
