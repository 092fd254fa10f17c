// page.test.mjs - drives www/ in the system chromium through playwright-core
// against a running ragrade (started by t/page.py). Prints one JSON object a
// line: {"ok": bool, "name": ..., "diag": ...} or {"comment": ...}; t/page.py
// turns them into TAP. Waits are on DOM states, never fixed sleeps.
//
// usage: node page.test.mjs BASE_URL ARTIFACT_DIR TMP_DIR [TOKENED_URL]
// TOKENED_URL is a second server with read, submit and admin tokens, which
// RAGRADE_PAGE_TOKENS ({"read": ..., "submit": ..., "admin": ...}) holds.

import {chromium} from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [base, artifacts, tmpArg, tokenBase] = process.argv.slice(2);
if (!base || !artifacts) {
    console.error('usage: node page.test.mjs BASE_URL ARTIFACT_DIR [TMP_DIR]');
    process.exit(2);
}
const tmp = tmpArg || fs.mkdtempSync(path.join(os.tmpdir(), 'ragrade-page-'));
fs.mkdirSync(artifacts, {recursive: true});

function out(o) {
    process.stdout.write(JSON.stringify(o) + '\n');
}
function ok(cond, name, diag) {
    out({ok: !!cond, name, diag: cond ? undefined : diag === undefined ? undefined : String(diag)});
    return !!cond;
}
function comment(s) {
    out({comment: s});
}

const XSS_SCRIPT = '<script>window.__xss=1</script>';
const XSS_IMG = '<img src=x onerror="window.__xss=1">';

async function apiPost(pathname, body) {
    const r = await fetch(base + pathname, {
        method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
    });
    return {status: r.status, body: await r.json()};
}

// Each step runs on its own: a failure is reported and the next step runs.
async function step(name, fn) {
    try {
        await fn();
    } catch (e) {
        ok(false, name, e && e.stack || e);
    }
}

async function shot(page, name, fullPage = true) {
    const file = path.join(artifacts, `page-${name}.png`);
    await page.screenshot({path: file, fullPage});
    comment(`screenshot: ${file}`);
}

async function newPage(browser, viewport, problems) {
    const context = await browser.newContext({viewport, baseURL: base});
    // Only the server under test: anything else is refused and recorded.
    await context.route('**/*', (route) => {
        const u = new URL(route.request().url());
        if (u.hostname === '127.0.0.1' || u.protocol === 'data:')
            return route.continue();
        problems.push(`request off loopback: ${u.href}`);
        return route.abort();
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text()))
            problems.push(`CSP: ${m.text()}`);
        else if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
            problems.push(`console error: ${m.text()}`);
    });
    page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        d.dismiss().catch(() => {});
    });
    return {context, page};
}

async function main() {
    // launch() gives the browser a fresh, temporary user-data dir of its own.
    const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    const problems = [];
    const {context, page} = await newPage(browser, {width: 1280, height: 900}, problems);
    page.setDefaultTimeout(60000);
    let rowId = null;

    // ---- the form: one row through the page, watched to done in the table ----
    await step('submit one row through the form', async () => {
        await page.goto('/#/new');
        await page.evaluate(() => { window.__noReload = 1; });
        await page.locator('#r-metrics input[value="faithfulness"]').waitFor();
        ok(await page.locator('#r-metrics input[value="faithfulness"]').isChecked() &&
           !(await page.locator('#r-metrics input[value="token_f1"]').isChecked()),
        'metric checkboxes come from /api/health with the defaults pre-checked');
        await page.locator('#view-new').getByLabel('Question').fill('When was the Eiffel Tower completed?');
        await page.getByRole('textbox', {name: /^Answer/}).fill('The Eiffel Tower was completed in 1889. It is in Paris.');
        await page.getByRole('textbox', {name: 'Context 1', exact: true}).fill('The Eiffel Tower was built from 1887 to 1889 for the World\'s Fair.');
        await page.getByRole('button', {name: 'Add context'}).click();
        ok(await page.getByRole('textbox', {name: 'Context 2', exact: true}).evaluate((el) => el === document.activeElement),
            'Add context adds a labelled block and focuses it');
        await page.getByRole('textbox', {name: 'Context 2', exact: true}).fill('Paris is the capital of France.');
        await page.getByRole('button', {name: 'Add context'}).click();
        await page.getByRole('button', {name: 'Remove context 3'}).click();
        ok(await page.locator('#r-contexts .ctx').count() === 2, 'a context block can be removed');
        await page.getByLabel('Ground truth').fill('It was completed in 1889.');
        await page.getByLabel('token f1', {exact: true}).check();
        await page.locator('#row-form').getByLabel('Dataset').fill('page-test');
        await shot(page, 'form');
        await page.getByRole('button', {name: 'Evaluate', exact: true}).click();
        const res = page.locator('#row-result');
        await res.getByText(/Queued as evaluation #\d+/).waitFor();
        rowId = Number(/#(\d+)/.exec(await res.textContent())[1]);
        ok(rowId > 0, 'the form answers with the new evaluation\'s id', await res.textContent());
    });

    const needRow = () => {
        if (!rowId)
            throw new Error('no evaluation id from the form step');
    };
    await step('the row reaches done in the live table', async () => {
        needRow();
        await page.getByRole('navigation', {name: 'Views'}).getByRole('link', {name: 'Evaluations'}).click();
        const tr = page.locator(`#list-body tr[data-id="${rowId}"]`);
        await tr.waitFor();
        const firstStatus = await tr.getAttribute('data-status');
        await page.locator(`#list-body tr[data-id="${rowId}"][data-status="done"]`).waitFor({timeout: 60000});
        ok(true, `the table shows the row (first as ${firstStatus}) and updates it to done without a reload`);
        ok(await page.evaluate(() => window.__noReload === 1), 'the page was not reloaded');
        const text = await page.locator(`#list-body tr[data-id="${rowId}"]`).textContent();
        ok(/faithfulness/.test(text) && /token f1/.test(text) && /page-test/.test(text),
            'the row shows its scores and dataset', text);
        await shot(page, 'table');
    });

    await step('the detail view opens with Enter and shows scores with reasons', async () => {
        needRow();
        await page.locator(`#list-body tr[data-id="${rowId}"] a.q-link`).focus();
        await page.keyboard.press('Enter');
        await page.waitForURL(new RegExp(`#/eval/${rowId}$`));
        await page.locator('#d-status.badge-done').waitFor();
        ok(await page.locator('#detail-h').textContent() === `Evaluation #${rowId}`, 'Enter on the row\'s link opens #/eval/{id}');
        const faith = page.locator('li.metric[data-metric="faithfulness"]');
        ok(await faith.locator('.metric-score').textContent().then((t) => /^\d/.test(t)), 'faithfulness has a score');
        const heads = await faith.locator('table thead th').allTextContents();
        ok(heads.includes('statement') && heads.includes('verdict'),
            'faithfulness\'s JSON reasoning is a table of statements and verdicts', heads);
        const tf1 = await page.locator('li.metric[data-metric="token_f1"] .metric-score').textContent();
        const j = await (await fetch(`${base}/api/eval/${rowId}`)).json();
        ok(tf1.startsWith(String(Math.round(j.scores.token_f1 * 1000) / 1000).slice(0, 4)),
            'a built-in metric shows the API\'s score', `${tf1} vs ${j.scores.token_f1}`);
        const run = await page.locator('#d-run').textContent();
        ok(/Attempts1 of \d/.test(run) && /Tokens/.test(run) && /prompt/.test(run), 'attempts, timings and tokens are shown', run);
        const inputs = await page.locator('#d-inputs').textContent();
        ok(inputs.includes('Paris is the capital of France.') && inputs.includes('It was completed in 1889.'),
            'the inputs are shown', inputs);
        await shot(page, 'detail');
    });

    await step('a metric without its inputs shows no score and its reason in words', async () => {
        const r = await apiPost('/api/eval', {question: 'q', answer: 'a b', contexts: [], metrics: ['token_f1']});
        await page.goto(`/#/eval/${r.body.id}`);
        await page.locator('#d-status.badge-done').waitFor();
        const j = await (await fetch(`${base}/api/eval/${r.body.id}`)).json();
        const li = page.locator('li.metric[data-metric="token_f1"]');
        const shown = await li.locator('.reason').textContent();
        ok(j.scores.token_f1 === null && typeof j.reasons.token_f1 === 'string' && shown === j.reasons.token_f1 &&
           await li.locator('.metric-score').textContent() === 'no score',
        'a null score reads "no score" with the metric\'s reason as text', `${shown} / ${JSON.stringify(j.reasons)}`);
        await page.goto(`/#/eval/${rowId}`);
        await page.locator('#d-status.badge-done').waitFor();
    });

    await step('retry through the page', async () => {
        needRow();
        // Admin routes need an admin token (the server is started with one).
        await page.evaluate(() => sessionStorage.setItem('ragrade.token', 's3cret'));
        await page.getByRole('button', {name: 'Retry'}).click();
        await page.locator('#d-admin-result').getByText('queued again').waitFor();
        await page.locator('#d-status.badge-done').waitFor({timeout: 60000});
        await page.evaluate(() => sessionStorage.removeItem('ragrade.token'));
        ok(true, 'Retry requeues the row and the detail follows it back to done');
    });

    await step('every control has a label', async () => {
        const unlabelled = await page.evaluate(() => Array.from(
            document.querySelectorAll('input, select, textarea, button')).filter((el) => {
            const name = (el.labels && el.labels.length ? Array.from(el.labels).map((l) => l.textContent).join(' ') : '') +
                (el.getAttribute('aria-label') || '') + (el.tagName === 'BUTTON' ? el.textContent : '');
            return !name.trim();
        }).map((el) => el.outerHTML.slice(0, 120)));
        ok(unlabelled.length === 0, 'every input, select, textarea and button has a label', unlabelled.join('\n'));
    });

    // ---- upload ----
    await step('upload a JSONL batch', async () => {
        const rows = [];
        for (let i = 0; i < 30; i++)
            rows.push({user_input: `Batch question ${i}?`, response: `Answer number ${i}.`,
                retrieved_contexts: [`Context for ${i}.`], reference: `Answer number ${i}.`,
                metrics: ['token_f1', 'exact_match']});
        const file = path.join(tmp, 'good.jsonl');
        fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
        await page.goto('/#/new');
        await page.getByLabel('File', {exact: true}).setInputFiles(file);
        await page.getByLabel('Dataset for rows without one').fill('batch-test');
        await page.getByRole('button', {name: 'Upload and evaluate'}).click();
        await page.locator('#upload-result.result-ok').waitFor();
        const t = await page.locator('#upload-result').textContent();
        ok(/Accepted 30 rows/.test(t), 'the page shows how many rows were accepted', t);
    });

    await step('a bad batch shows the error with its field', async () => {
        const file = path.join(tmp, 'bad.jsonl');
        fs.writeFileSync(file, [
            JSON.stringify({question: 'q1', answer: 'a', contexts: ['c']}),
            '',
            JSON.stringify({question: 'q2', answer: 'a', contexts: ['ok', 5]}),
        ].join('\n') + '\n');
        await page.getByLabel('File', {exact: true}).setInputFiles(file);
        await page.getByRole('button', {name: 'Upload and evaluate'}).click();
        await page.locator('#upload-result.alert-error').waitFor();
        const t = await page.locator('#upload-result').textContent();
        ok(t.includes('[1].contexts[1]') && /row 2, context 2/.test(t) && /line 3/.test(t) && /Nothing from bad\.jsonl/.test(t),
            'the refusal names the field, the row and its line', t);
        const bad2 = path.join(tmp, 'broken.jsonl');
        fs.writeFileSync(bad2, '{"question": "q", "answer": "a", "contexts": []}\n{"question": \n');
        await page.getByLabel('File', {exact: true}).setInputFiles(bad2);
        await page.getByRole('button', {name: 'Upload and evaluate'}).click();
        await page.locator('#upload-result.alert-error').getByText('Line 2 is not valid JSON').waitFor();
        ok(true, 'a file that is not JSONL is refused before sending, naming the line');
    });

    // ---- an API error in words ----
    await step('an empty question is refused in words naming the field', async () => {
        await page.locator('#view-new').getByLabel('Question').fill('');
        await page.getByRole('textbox', {name: /^Answer/}).fill('Some answer');
        await page.getByRole('button', {name: 'Evaluate', exact: true}).click();
        await page.locator('#row-result.alert-error').waitFor();
        const t = await page.locator('#row-result').textContent();
        ok(/did not accept the question/.test(t) && /question is required/.test(t), 'the message names the field', t);
        const qBox = page.locator('#view-new').getByLabel('Question');
        ok(await qBox.getAttribute('aria-invalid') === 'true' &&
           await qBox.evaluate((el) => el === document.activeElement),
        'the question box is marked invalid and focused');
    });

    await step('a network failure is shown in words', async () => {
        await page.route('**/api/eval?*', (route) => route.abort('connectionrefused'));
        await page.goto('/#/');
        await page.locator('#list-error').getByText('Cannot reach the ragrade server').waitFor();
        ok(true, 'an unreachable API reads "Cannot reach the ragrade server"');
        await page.unroute('**/api/eval?*');
        await page.locator('#list-error').waitFor({state: 'hidden', timeout: 30000});
        ok(true, 'the table recovers by itself once the API answers again');
    });

    // ---- filters and pages ----
    await step('filter by status and dataset, page with before/next_before', async () => {
        await page.goto('/#/');
        await page.locator('#view-list').getByLabel('Dataset').selectOption('batch-test');
        await page.waitForURL(/dataset=batch-test/);
        await page.locator('#list-body tr').first().waitFor();
        await page.waitForFunction(() => document.querySelectorAll('#list-body tr').length === 25);
        const ds = await page.locator('#list-body tr .ds').allTextContents();
        ok(ds.length === 25 && ds.every((d) => d === 'batch-test'), 'the dataset filter shows only that dataset', ds);
        const firstPage = await page.locator('#list-body tr').first().getAttribute('data-id');
        await page.getByRole('button', {name: 'Older'}).click();
        await page.waitForURL(/before=\d+/);
        await page.waitForFunction(() => document.querySelectorAll('#list-body tr').length === 5);
        ok(true, 'Older shows the next page (next_before)');
        await page.getByRole('button', {name: 'Newer'}).click();
        await page.waitForFunction((id) => document.querySelector('#list-body tr')?.getAttribute('data-id') === id, firstPage);
        ok(true, 'Newer goes back to the first page');
        await page.locator('#view-list').getByLabel('Status').selectOption('done');
        await page.waitForURL(/status=done/);
        await page.waitForFunction(() => {
            const rows = document.querySelectorAll('#list-body tr');
            return rows.length > 0 && Array.from(rows).every((r) => r.getAttribute('data-status') === 'done');
        });
        ok(true, 'the status filter shows only done rows');
    });

    // ---- XSS: data is text ----
    let xssId = null;
    await step('markup in the data shows literally and never runs', async () => {
        const r = await apiPost('/api/eval', {
            question: `Q ${XSS_SCRIPT} ${XSS_IMG}`, answer: `A ${XSS_IMG} ${XSS_SCRIPT}`,
            contexts: [XSS_SCRIPT, XSS_IMG], ground_truth: XSS_IMG, dataset: `ds${XSS_IMG}`,
            metrics: ['faithfulness', 'token_f1'],
        });
        ok(r.status === 202, 'the row with markup is accepted by the API', JSON.stringify(r));
        xssId = r.body.id;
        await page.goto('/#/');
        const tr = page.locator(`#list-body tr[data-id="${xssId}"]`);
        await tr.waitFor();
        const qt = await tr.locator('td.q').textContent();
        ok(qt.includes(XSS_SCRIPT) && qt.includes('<img src=x onerror='), 'the table shows the markup as text', qt);
        await tr.locator('a.q-link').click();
        await page.locator('#d-status.badge-done').waitFor({timeout: 60000});
        const inputs = await page.locator('#d-inputs').innerText();
        ok(inputs.includes(`A ${XSS_IMG} ${XSS_SCRIPT}`) && inputs.includes(XSS_SCRIPT) && inputs.includes(XSS_IMG),
            'the detail shows answer, question and contexts literally', inputs);
        const scores = await page.locator('#d-scores').innerText();
        ok(scores.includes('<script>'), 'the judge\'s reasoning quoting the markup shows it literally');
        await page.goto('/#/summary');
        await page.locator('#s-dataset option', {hasText: 'ds<img'}).first().waitFor({state: 'attached'});
        const state = await page.evaluate(() => ({
            xss: typeof window.__xss, imgs: document.querySelectorAll('img').length,
            scripts: Array.from(document.scripts).filter((s) => !s.src).length,
        }));
        ok(state.xss === 'undefined' && state.imgs === 0 && state.scripts === 0,
            'window.__xss stays undefined; no <img> or inline <script> reached the DOM', JSON.stringify(state));
    });

    // ---- summary ----
    await step('the summary shows metrics, histograms, counts and judge health', async () => {
        await page.goto('/#/summary?dataset=page-test');
        await page.locator('#s-metrics tr[data-metric="faithfulness"] svg.hist rect.hist-bar').first().waitFor();
        const row = await page.locator('#s-metrics tr[data-metric="faithfulness"]').innerText();
        ok(/faithfulness/i.test(row), 'a row per metric with mean, n, nulls', row);
        const heights = await page.locator('#s-metrics tr[data-metric="faithfulness"] rect.hist-bar')
            .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
        ok(heights.length === 10 && heights.some((x) => x > 0), 'the histogram is ten SVG bars with one or more counts', heights);
        ok(await page.locator('#s-dataset').inputValue() === 'page-test', 'the dataset in the hash selects the summary');
        await page.locator('#s-judge').getByText('ready').waitFor();
        const judge = await page.locator('#s-judge').innerText();
        ok(/openai/.test(judge) && /judge-model/.test(judge), 'judge health shows backend, model and state', judge);
        const counts = await page.locator('#s-counts').innerText();
        ok(/1\s*done/i.test(counts), 'counts per status for the dataset', counts);
        await shot(page, 'summary');
    });

    // ---- admin errors and the token ----
    await step('the compare view: two runs, deltas with intervals, drops side by side', async () => {
        const truth = (i) => ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']
            .map((w, k) => `${w}${(i + k) % 5}`).join(' ');
        const row = (i, run, drop) => ({question: `Compare case ${i}?`, answer: truth(i).split(' ').slice(0, 8 - drop).join(' '),
            contexts: [truth(i)], ground_truth: truth(i), metrics: ['token_f1'], dataset: 'page-cmp', run, item: `c${i}`});
        const rows = [];
        for (let i = 0; i < 12; i++)
            rows.push(row(i, 'r1', i % 2));
        const r1 = await apiPost('/api/eval', rows);
        const r2 = await apiPost('/api/eval', rows.map((x, i) => ({...x, run: 'r2', answer: truth(i).split(' ').slice(0, 4 - (i % 2)).join(' ')})));
        ok(r1.status === 202 && r2.status === 202, 'two runs of twelve items submitted', JSON.stringify([r1, r2]).slice(0, 300));
        // Wait on the server's own state: every row of both runs done.
        for (;;) {
            const s = await (await fetch(`${base}/api/summary?dataset=page-cmp`)).json();
            if (s.counts.done === 24)
                break;
            await new Promise((res) => setTimeout(res, 100));
        }
        const api = await (await fetch(`${base}/api/compare?dataset=page-cmp&baseline=r1&candidate=r2`)).json();
        await page.goto('/#/compare?dataset=page-cmp');
        await page.waitForURL(/baseline=r1&candidate=r2/);
        const tr = page.locator('#c-metrics tr[data-metric="token_f1"]');
        await tr.waitFor();
        const m = api.metrics[0];
        const cells = await tr.locator('td').allTextContents();
        ok(await page.locator('#c-baseline').inputValue() === 'r1' && await page.locator('#c-candidate').inputValue() === 'r2',
            'a dataset alone picks its newest run as candidate and the one before as baseline');
        ok(cells[0] === String(m.pairs) && cells[3].startsWith('−') && m.delta < 0 &&
           Math.abs(Number(cells[3].slice(1)) + m.delta) < 0.001 && cells[6] === 'worse' && m.verdict === 'worse',
        'the table shows pairs, the delta and the verdict of /api/compare', `${cells} / ${JSON.stringify(m).slice(0, 300)}`);
        const bar = tr.locator('svg.dbar');
        ok(await bar.locator('rect.db-ci').count() === 1 && await bar.locator('circle.db-pt').count() === 1 &&
           /95 % interval/.test(await bar.getAttribute('aria-label')), 'the delta is drawn with its interval around zero',
        await bar.getAttribute('aria-label'));
        const drops = page.locator('#c-drops .drop-open');
        ok(await drops.count() === Math.min(10, m.drops.length) && m.drops.length > 0, 'the largest drops are listed',
            await page.locator('#c-drops').textContent());
        await drops.first().click();
        await page.locator('#c-pair-cols .pair-side').nth(1).waitFor();
        const d = m.drops[0];
        const [b, c] = await Promise.all([d.baseline_id, d.candidate_id].map(async (id) => (await fetch(`${base}/api/eval/${id}`)).json()));
        const sides = await page.locator('#c-pair-cols .pair-side').allTextContents();
        ok(sides[0].includes(b.answer) && sides[1].includes(c.answer) && sides[0].includes(b.contexts[0]) &&
           /token f1/i.test(sides[1]), 'a drop opens both evaluations side by side: answers, contexts, each metric',
        sides.join('\n---\n').slice(0, 600));
        await shot(page, 'compare');
        await page.goto('/#/?dataset=page-cmp&run=r2');
        await page.locator('#list-body tr').first().waitFor();
        await page.waitForFunction(() => document.getElementById('f-run').value === 'r2');
        const texts = await page.locator('#list-body tr').allTextContents();
        ok(texts.length === 12 && texts.every((t) => t.includes('run r2')), 'the list filters by run and shows each row\'s run',
            texts.length);
        await page.goto('/#/summary?dataset=page-cmp&run=r1');
        const ci = page.locator('#s-metrics tr[data-metric="token_f1"] td.ci');
        await ci.waitFor();
        const sm = await (await fetch(`${base}/api/summary?dataset=page-cmp&run=r1`)).json();
        const want = sm.metrics.token_f1.ci95;
        const got = await ci.textContent();
        ok(/^\d.* – \d/.test(got) && Math.abs(Number(got.split(' – ')[0]) - want[0]) < 0.001,
            'the summary by run shows each mean\'s 95 % interval', `${got} vs ${want}`);
        await shot(page, 'summary-run');
    });

    await step('a 401 from delete asks for a token; the token is sent as a bearer', async () => {
        if (!xssId)
            throw new Error('no evaluation id from the markup step');
        let sawAuth = null;
        await page.route(`**/api/eval/${xssId}`, async (route) => {
            const req = route.request();
            if (req.method() !== 'DELETE')
                return route.continue();
            sawAuth = req.headers().authorization || null;
            if (sawAuth !== 'Bearer s3cret')
                return route.fulfill({status: 401, contentType: 'application/json',
                    body: JSON.stringify({error: {code: 'unauthorized', message: 'a bearer token is required', field: null}})});
            return route.continue();
        });
        await page.goto(`/#/eval/${xssId}`);
        await page.locator('#d-status.badge-done').waitFor();
        await page.getByRole('button', {name: 'Delete'}).click();
        await page.getByRole('button', {name: 'Yes, delete'}).click();
        await page.locator('#d-admin-result.alert-error').getByText('needs a token with the admin role').waitFor();
        ok(await page.locator('#token-box').isVisible() &&
           /admin role/.test(await page.locator('#t-need').textContent()),
        '401 in words naming the admin role, and the token box opens');
        await page.getByRole('textbox', {name: 'Token', exact: true}).fill('s3cret');
        await page.getByRole('button', {name: 'Save token'}).click();
        ok(await page.evaluate(() => sessionStorage.getItem('ragrade.token')) === 's3cret', 'the token is kept in sessionStorage');
        await page.getByRole('button', {name: 'Delete'}).click();
        await page.getByRole('button', {name: 'Yes, delete'}).click();
        await page.locator('#flash').getByText(`Evaluation #${xssId} was deleted.`).waitFor();
        ok(sawAuth === 'Bearer s3cret', 'the delete carried Authorization: Bearer', sawAuth);
        const g = await fetch(`${base}/api/eval/${xssId}`);
        ok(g.status === 404, 'the row is gone');
        await page.unroute(`**/api/eval/${xssId}`);
    });

    ok(problems.length === 0, 'no CSP violations, page errors, dialogs or off-loopback requests', problems.join('\n'));
    await context.close();

    // ---- phone width ----
    const phoneProblems = [];
    const phone = await newPage(browser, {width: 375, height: 812}, phoneProblems);
    phone.page.setDefaultTimeout(30000);
    await step('readable at 375 px without horizontal page scroll', async () => {
        const p = phone.page;
        const views = [['list', '/#/', '#list-body tr'], ['new', '/#/new', '#r-metrics input'],
            ['detail', `/#/eval/${rowId}`, '#d-scores li.metric'], ['summary', '/#/summary', '#s-metrics tr']];
        for (const [name, url, sel] of views) {
            await p.goto(url);
            await p.locator(sel).first().waitFor();
            const w = await p.evaluate(() => document.documentElement.scrollWidth);
            ok(w <= 375, `${name} view: document scrollWidth ${w} <= 375`, w);
            if (name === 'list') {
                const inner = await p.locator('#view-list .table-scroll').evaluate((el) => [el.scrollWidth, el.clientWidth]);
                ok(inner[0] > inner[1], 'the table scrolls inside its own container', inner);
                await shot(p, 'phone', false);
            }
            if (name === 'detail')
                await shot(p, 'phone-detail');
        }
    });
    ok(phoneProblems.length === 0, 'no problems at phone width', phoneProblems.join('\n'));
    await phone.context.close();
    if (tokenBase)
        await withTokens(browser);
    else
        comment('no server with tokens given: the token steps are skipped');
    await browser.close();
}

// ---- a server with read, submit and admin tokens ----
async function withTokens(browser) {
    const T = JSON.parse(process.env.RAGRADE_PAGE_TOKENS || '{}');
    const bearer = (role) => ({Authorization: `Bearer ${T[role]}`});
    const problems = [];
    const context = await browser.newContext({viewport: {width: 1280, height: 900}, baseURL: tokenBase});
    await context.route('**/*', (route) => {
        const u = new URL(route.request().url());
        if (u.hostname === '127.0.0.1' || u.protocol === 'data:')
            return route.continue();
        problems.push(`request off loopback: ${u.href}`);
        return route.abort();
    });
    const page = await context.newPage();
    page.setDefaultTimeout(60000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error' && !/Failed to load resource/.test(m.text()))
            problems.push(`console error: ${m.text()}`);
    });
    const calls = [];                  // every /api/ request: [method, path, Authorization]
    page.on('request', (req) => {
        const u = new URL(req.url());
        if (u.pathname.startsWith('/api/'))
            calls.push([req.method(), u.pathname, req.headers().authorization || null]);
    });
    const shotTmp = async (name) => {
        const file = path.join(tmp, `page-${name}.png`);
        await page.screenshot({path: file, fullPage: true});
        comment(`screenshot: ${file}`);
        fs.copyFileSync(file, path.join(artifacts, `page-${name}.png`));
    };
    const saveToken = async (t) => {
        await page.getByRole('textbox', {name: 'Token', exact: true}).fill(t);
        await page.getByRole('button', {name: 'Save token'}).click();
    };
    let seeded = null;

    await step('the server with tokens refuses calls without one', async () => {
        const bare = await fetch(`${tokenBase}/api/eval`);
        const r = await fetch(`${tokenBase}/api/eval`, {method: 'POST', headers: {'Content-Type': 'application/json',
            ...bearer('submit')}, body: JSON.stringify({question: 'Seeded with a token?', answer: 'Yes.',
            contexts: ['It was seeded.'], dataset: 'tok-ds', metrics: ['token_f1']})});
        const body = await r.json();
        seeded = body.id;
        ok(bare.status === 401 && r.status === 202 && seeded > 0,
            'GET /api/eval without a token is 401; a submit token stores a row', `${bare.status} ${r.status}`);
    });

    await step('the page asks for a token and names the read role', async () => {
        await page.goto('/#/');
        await page.locator('#token-box').waitFor();
        await page.locator('#t-need').getByText('read role').waitFor();
        ok(true, 'a 401 on the list opens the token box, saying the read role is needed');
        await page.locator('#list-error').getByText('read role').waitFor();
        ok(/read role/.test(await page.locator('#list-error').textContent()),
            'the list\'s own error names the role', await page.locator('#list-error').textContent());
        ok(await page.evaluate(() => document.activeElement && document.activeElement.id) === 't-token',
            'focus moves to the token field');
        ok(!/needs an admin token/i.test(await page.locator('#t-need').textContent()),
            'the page no longer says an admin token is needed', await page.locator('#t-need').textContent());
        await shotTmp('token-asked');
    });

    await step('with a read token the page lists and shows the summary', async () => {
        const from = calls.length;
        await saveToken(T.read);
        await page.locator(`#list-body tr[data-id="${seeded}"]`).waitFor();
        ok(await page.locator('#t-need').isHidden() && await page.locator('#list-error').isHidden(),
            'the list loads and the refusal goes away');
        ok(await page.evaluate(() => sessionStorage.getItem('ragrade.token')) === T.read,
            'the token is kept in the tab\'s sessionStorage');
        await page.getByRole('navigation', {name: 'Views'}).getByRole('link', {name: 'Summary'}).click();
        await page.locator('#s-metrics tr[data-metric="token_f1"]').waitFor();
        const counts = await page.locator('#s-counts').innerText();
        ok(/1\s*total/i.test(counts) && await page.locator('#summary-error').isHidden(),
            'the summary shows the counts', counts);
        // A poll the list issued just before the click may be reported after
        // it: count from the first call that carries the token (requests are
        // reported in the order they were issued).
        const after = calls.slice(from);
        const first = after.findIndex((c) => c[2] === `Bearer ${T.read}`);
        const sent = first < 0 ? after : after.slice(first);
        const bad = sent.filter((c) => c[2] !== `Bearer ${T.read}`);
        ok(sent.length >= 3 && bad.length === 0, 'every call after saving carries the token',
            JSON.stringify(bad.length ? bad : sent));
        ok(sent.some((c) => c[1] === '/api/summary') && sent.some((c) => c[1] === '/api/eval'),
            'list and summary calls were among them', JSON.stringify(sent));
    });

    let rowId = null;
    await step('a read token submitting is told the submit role is needed', async () => {
        await page.goto('/#/new');
        await page.locator('#r-metrics input[value="token_f1"]').waitFor();
        await page.locator('#view-new').getByLabel('Question').fill('Who wrote the token test?');
        await page.getByRole('textbox', {name: /^Answer/}).fill('A test engineer wrote it.');
        await page.getByRole('textbox', {name: 'Context 1', exact: true}).fill('The token test was written by a test engineer.');
        await page.getByRole('button', {name: 'Evaluate', exact: true}).click();
        await page.locator('#row-result.alert-error').waitFor();
        const t = await page.locator('#row-result').textContent();
        ok(/submit role/.test(t) && /read token|may not/.test(t), 'the refusal (403) names the submit role', t);
        ok(await page.locator('#token-box').isVisible() && /submit role/.test(await page.locator('#t-need').textContent()),
            'the token box asks for a submit token', await page.locator('#t-need').textContent());
        await shotTmp('token-role');
    });

    await step('with a submit token the same row is submitted', async () => {
        await saveToken(T.submit);
        await page.getByRole('button', {name: 'Evaluate', exact: true}).click();
        const res = page.locator('#row-result');
        await res.getByText(/Queued as evaluation #\d+/).waitFor();
        rowId = Number(/#(\d+)/.exec(await res.textContent())[1]);
        const g = await fetch(`${tokenBase}/api/eval/${rowId}`, {headers: bearer('read')});
        const j = await g.json();
        ok(g.status === 200 && j.question === 'Who wrote the token test?', 'the row was stored', JSON.stringify(j));
        const posts = calls.filter((c) => c[0] === 'POST' && c[1] === '/api/eval');
        ok(posts.length === 2 && posts[1][2] === `Bearer ${T.submit}`, 'the submit carried the submit token',
            JSON.stringify(posts));
    });

    await step('retry with a submit token names the admin role', async () => {
        if (!rowId)
            throw new Error('no row from the submit step');
        await page.goto(`/#/eval/${rowId}`);
        await page.locator('#d-status.badge-done').waitFor();
        await page.getByRole('button', {name: 'Retry'}).click();
        await page.locator('#d-admin-result.alert-error').waitFor();
        const t = await page.locator('#d-admin-result').textContent();
        ok(/admin role/.test(t), 'a 403 on retry names the admin role', t);
    });

    await step('a token the server does not know is said so', async () => {
        await saveToken('not-a-token-of-this-server');
        await page.goto('/#/');
        await page.locator('#t-need').getByText('did not accept the saved token').waitFor();
        const t = await page.locator('#t-need').textContent();
        ok(/read role/.test(t), 'an unknown token reads "did not accept the saved token", with the role needed', t);
        await page.getByRole('button', {name: 'Forget token'}).click();
        ok(await page.evaluate(() => sessionStorage.getItem('ragrade.token')) === null, 'Forget token clears it');
    });

    await step('the token stays in its tab', async () => {
        await saveToken(T.read);
        await page.locator(`#list-body tr[data-id="${seeded}"]`).waitFor();
        const other = await context.newPage();
        await other.goto('/#/');
        await other.locator('#t-need').getByText('read role').waitFor();
        ok(await other.evaluate(() => sessionStorage.getItem('ragrade.token')) === null,
            'a second tab has no token and asks for one');
        await other.getByRole('button', {name: 'Close'}).click();
        await other.waitForFunction(() => document.getElementById('token-btn').textContent === 'Token needed');
        ok(await other.locator('#token-box').isHidden() &&
           /read role/.test(await other.locator('#list-error').textContent()),
        'closed, the box stays closed while the list keeps failing; the list and the button say why');
        await other.close();
    });

    await step('the Criteria view: create a rubric and a critic, errors, votes in the detail', async () => {
        await page.evaluate((t) => sessionStorage.setItem('ragrade.token', t), T.admin);
        await page.goto('/#/criteria');
        await page.reload();
        await page.locator('#view-criteria').waitFor();
        await page.locator('#c-empty').waitFor();
        ok(true, 'the Criteria view lists none at first');
        const form = page.locator('#c-form');
        await form.getByLabel(/^Name/).fill('supported');
        await page.locator('#c-kind').selectOption('rubric');
        await form.getByLabel(/^Definition/).fill('How well do the contexts support the answer?');
        await page.locator('#c-in-contexts').check();
        await page.locator('#c-levels').fill('1: contradicts the contexts\n3: partly supported\n2: fully supported');
        await page.locator('#c-steps').fill('List the answer\'s claims\nFind each claim in the contexts');
        await form.getByRole('button', {name: 'Save'}).click();
        await page.locator('#cr-result.alert-error').waitFor();
        const err = await page.locator('#cr-result').textContent();
        ok(/levels/i.test(err) && await page.locator('#c-levels').getAttribute('aria-invalid') === 'true',
            'levels out of order: the server\'s 400 is shown and the levels box marked', err);
        await shot(page, 'criteria-error');
        await page.locator('#c-levels').fill('1: contradicts the contexts\n2: partly supported\n3: fully supported');
        await form.getByRole('button', {name: 'Save'}).click();
        await page.locator('#cr-result.alert-ok').waitFor();
        await page.locator('#c-list tr[data-criterion="supported"]').waitFor();
        const cells = await page.locator('#c-list tr[data-criterion="supported"] td').allTextContents();
        ok(cells[0] === 'rubric' && /contexts/.test(cells[1]) && /1 · 2 · 3/.test(cells[2]) && /^[0-9a-f]{16}$/.test(cells[3]),
            'the list shows kind, inputs, levels and version', cells.join(' | '));
        await page.locator('#c-new').click();
        await form.getByLabel(/^Name/).fill('polite');
        await form.getByLabel(/^Definition/).fill('Is the answer polite?');
        await page.locator('#c-samples').fill('3');
        await form.getByRole('button', {name: 'Save'}).click();
        await page.locator('#c-list tr[data-criterion="polite"]').waitFor();
        await shot(page, 'criteria');
        await page.goto('/#/new');
        await page.reload();
        await page.locator('#r-metrics input[value="polite"]').waitFor();
        ok(true, 'the new-evaluation form offers the criteria');
        const r = await fetch(`${tokenBase}/api/eval`, {method: 'POST', headers: {'Content-Type': 'application/json',
            ...bearer('submit')}, body: JSON.stringify({question: 'Is the tower tall?', answer: 'Yes, it is 330 m tall.',
            contexts: ['The tower is 330 m tall.'], metrics: ['polite', 'supported']})});
        const id = (await r.json()).id;
        await page.goto(`/#/eval/${id}`);
        await page.locator('[data-metric="polite"] .crit-votes').waitFor();
        const votes = await page.locator('[data-metric="polite"] .crit-votes li').count();
        ok(votes === 3, 'the detail shows the critic\'s three votes', votes);
        const lvl = await page.locator('[data-metric="supported"] .crit-level').textContent();
        ok(/Level 3: fully supported/.test(lvl) && await page.locator('[data-metric="supported"] .crit-steps li').count() === 2,
            'the detail shows the rubric\'s level with its description and the steps\' reasoning', lvl);
        await shot(page, 'criteria-detail');
    });

    ok(problems.length === 0, 'no page errors or off-loopback requests with tokens', problems.join('\n'));
    await context.close();
}

main().catch((e) => {
    ok(false, 'page test raised', e && e.stack || e);
    process.exitCode = 1;
});
