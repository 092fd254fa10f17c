// labels.test.mjs - the page's human labels in the system chromium (run by
// t/labels.py against its server, which holds dataset "lab"): the label
// controls beside the scores in the detail view driven by the keyboard, the
// Review view's random and disagreements queues with progress, and the
// corrected mean in the summary. Prints one JSON object a line, as
// page.test.mjs does; screenshots go to ARTIFACT_DIR. Waits are on DOM
// states, never fixed sleeps.
//
// usage: node labels.test.mjs BASE_URL ARTIFACT_DIR EVAL_ID TOKEN

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [base, artifacts, evalId, token] = process.argv.slice(2);
fs.mkdirSync(artifacts, {recursive: true});
const NAME = 'browser-labeler';

function out(o) {
    process.stdout.write(JSON.stringify(o) + '\n');
}
function ok(cond, name, diag) {
    out({ok: !!cond, name, diag: cond ? undefined : diag === undefined ? undefined : String(diag)});
    return !!cond;
}
async function step(name, fn) {
    try {
        await fn();
    } catch (e) {
        ok(false, name, e && e.stack || e);
    }
}
async function shot(page, name) {
    const file = path.join(artifacts, `labels-${name}.png`);
    await page.screenshot({path: file, fullPage: true});
    out({comment: `screenshot: ${file}`});
}
async function apiGet(p) {
    const r = await fetch(base + p, {headers: {Authorization: `Bearer ${token}`}});
    return r.json();
}

async function main() {
    const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    const problems = [];
    const context = await browser.newContext({viewport: {width: 1280, height: 900}, baseURL: base});
    await context.route('**/*', (route) => {
        const u = new URL(route.request().url());
        if (u.hostname === '127.0.0.1' || u.protocol === 'data:')
            return route.continue();
        problems.push(`request off loopback: ${u.href}`);
        return route.abort();
    });
    await context.addInitScript((t) => sessionStorage.setItem('ragrade.token', t), token);
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
            problems.push(`console error: ${m.text()}`);
    });

    await step('detail view: label controls beside each score, driven by the keyboard', async () => {
        await page.goto(`/#/eval/${evalId}`);
        await page.locator('#d-status.badge-done').waitFor();
        await page.locator('#d-labeler').fill(NAME);
        await page.locator('#d-labeler').press('Tab');
        const em = page.locator('.label-ctl[data-metric="exact_match"]');
        await em.waitFor();
        const names = await page.locator('#d-scores .label-ctl').evaluateAll((els) => els.map((e) => e.dataset.metric));
        ok(names.join(',') === 'exact_match,rouge_score,token_f1', 'one label control per metric', names);
        await em.focus();
        await page.keyboard.press('y');
        ok(await em.locator('button[aria-pressed="true"]').textContent() === 'Yes', 'y picks Yes on a binary metric');
        await page.keyboard.press('Enter');
        await em.locator('.label-status', {hasText: 'Saved'}).waitFor();
        const focused = await page.evaluate(() => document.activeElement.dataset.metric);
        ok(focused === 'rouge_score', 'Enter saves and moves to the next metric', focused);
        await page.keyboard.press('7');
        await page.keyboard.press('Enter');
        await page.locator('.label-ctl[data-metric="rouge_score"] .label-status', {hasText: 'Saved'}).waitFor();
        const got = await apiGet(`/api/eval/${evalId}/labels`);
        const mine = Object.fromEntries(got.labels.filter((l) => l.labeler === NAME).map((l) => [l.metric, l]));
        ok(mine.exact_match?.value === 1 && mine.rouge_score?.value === 0.7 && mine.rouge_score.sampled === false,
            'the API has the two labels (1 and 0.7), not marked sampled', JSON.stringify(got));
        await shot(page, 'detail');
        await page.reload();
        await page.locator('.label-ctl[data-metric="exact_match"].label-done').waitFor();
        ok(true, 'after a reload the stored label shows as done');
    });

    await step('review view: a seeded random sample labelled with the keyboard, progress shown', async () => {
        await page.goto('/#/review');
        await page.locator('#rv-metric option[value="token_f1"]').waitFor({state: 'attached'});
        await page.locator('#rv-dataset').selectOption('lab');
        await page.locator('#rv-metric').selectOption('token_f1');
        await page.locator('#rv-mode').selectOption('random');
        await page.locator('#rv-n').fill('5');
        await page.locator('#rv-seed').fill('3');
        await page.locator('#rv-labeler').fill(NAME);
        await page.getByRole('button', {name: 'Draw rows'}).click();
        await page.locator('.review-item').nth(4).waitFor();
        const ids = await page.locator('.review-item').evaluateAll((els) => els.map((e) => Number(e.dataset.id)));
        const want = await apiGet('/api/review?dataset=lab&metric=token_f1&mode=random&n=5&seed=3');
        ok(JSON.stringify(ids) === JSON.stringify(want.items.map((x) => x.id)), 'the queue is the server\'s seeded draw',
            `${ids} vs ${want.items.map((x) => x.id)}`);
        ok(/Labelled 0 of 5/.test(await page.locator('#rv-progress').textContent()), 'progress starts at 0 of 5');
        for (let i = 0; i < 5; i++) {
            const ctl = page.locator('.review-item').nth(i).locator('.label-ctl');
            ok(await ctl.evaluate((el) => el === document.activeElement), `row ${i + 1} has the focus`);
            await page.keyboard.press(String(i + 3));
            await page.keyboard.press('Enter');
            await page.locator('#rv-progress', {hasText: `Labelled ${i + 1} of 5`}).waitFor();
        }
        ok(true, 'each Enter stores a label and the progress counts it');
        await shot(page, 'review-random');
        const stored = await Promise.all(ids.map((id) => apiGet(`/api/eval/${id}/labels`)));
        const vals = stored.map((s) => s.labels.find((l) => l.labeler === NAME && l.metric === 'token_f1'));
        ok(vals.every((l, i) => l && l.sampled === true && Math.abs(l.value - (i + 3) / 10) < 1e-9),
            'the labels are stored with sampled = 1 and the keyed values', JSON.stringify(vals));
        ok(/Pairs/.test(await page.locator('#rv-agree').textContent()), 'the agreement so far is shown');
    });

    await step('review view: disagreements first', async () => {
        await page.locator('#rv-mode').selectOption('disagreements');
        await page.locator('#rv-seed').fill('');
        await page.getByRole('button', {name: 'Draw rows'}).click();
        await page.waitForURL(/mode=disagreements/);
        await page.locator('#rv-how', {hasText: 'gaps'}).waitFor();
        const ids = await page.locator('.review-item').evaluateAll((els) => els.map((e) => Number(e.dataset.id)));
        const want = await apiGet('/api/review?dataset=lab&metric=token_f1&mode=disagreements&n=5');
        ok(JSON.stringify(ids) === JSON.stringify(want.items.map((x) => x.id)),
            'the queue is the server\'s disagreements order', `${ids} vs ${want.items.map((x) => x.id)}`);
        await shot(page, 'review-disagreements');
    });

    await step('summary: the corrected mean beside the judge\'s', async () => {
        await page.goto('/#/summary?dataset=lab');
        const c = page.locator('tr[data-metric="token_f1"] .corrected');
        await c.waitFor();
        ok(/corrected with \d+ human labels/.test(await c.textContent()), 'says how many labels corrected it',
            await c.textContent());
        await shot(page, 'summary');
    });

    ok(problems.length === 0, 'no page errors, console errors or requests off loopback', problems.join('\n'));
    await browser.close();
}

main().catch((e) => {
    ok(false, 'the browser test ran', e && e.stack || e);
    process.exit(1);
});
