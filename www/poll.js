// poll.js - a poller with backoff: it runs at once, then every second,
// stretching to ten seconds while nothing changes; any change or activity
// (kick) brings it back to one second. It waits while the tab is hidden.

export const MIN_DELAY = 1000;
export const MAX_DELAY = 10000;

export class Poller {
    // fn() resolves to a signature of what it saw (a string); a different
    // signature counts as activity. onState({delay, error}) for the UI.
    constructor(fn, onState) {
        this.fn = fn;
        this.onState = onState || (() => {});
        this.delay = MIN_DELAY;
        this.timer = null;
        this.busy = false;
        this.again = false;
        this.active = false;
        this.last = undefined;
        this.onVisibility = () => {
            if (document.hidden) {
                this.cancel();
                this.onState({paused: true});
            } else {
                this.kick();
            }
        };
    }

    start() {
        if (!this.active) {
            this.active = true;
            document.addEventListener('visibilitychange', this.onVisibility);
        }
        this.last = undefined;
        this.kick();
    }

    stop() {
        this.active = false;
        document.removeEventListener('visibilitychange', this.onVisibility);
        this.cancel();
    }

    cancel() {
        clearTimeout(this.timer);
        this.timer = null;
    }

    // Activity: poll now and from then on at the shortest delay.
    kick() {
        this.delay = MIN_DELAY;
        this.cancel();
        if (this.busy)
            this.again = true;
        else
            this.run();
    }

    async run() {
        if (!this.active || document.hidden)
            return;
        this.busy = true;
        let error = null;
        try {
            const sig = await this.fn();
            if (this.last !== undefined && sig === this.last)
                this.delay = Math.min(MAX_DELAY, Math.round(this.delay * 1.5));
            else
                this.delay = MIN_DELAY;
            this.last = sig;
        } catch (e) {
            error = e;
            this.delay = Math.min(MAX_DELAY, Math.max(2000, this.delay * 2));
        }
        this.busy = false;
        if (!this.active)
            return;
        if (this.again) {
            this.again = false;
            this.delay = MIN_DELAY;
            this.run();
            return;
        }
        this.onState({delay: this.delay, error, paused: false});
        if (!document.hidden)
            this.timer = setTimeout(() => this.run(), this.delay);
    }
}
