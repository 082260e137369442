// The homeowner's page in headless Chromium (Debian's, driven by
// playwright-core): it loads with no console error (a CSP violation is
// one), shows the node, its chart and controls; Pause pauses the node and
// Resume resumes it; a page of another origin that posts a form to
// /control (the classic cross-site request) changes nothing; without the
// link's secret the controls are off. LINK (weftctl node page), STATUS
// (the status endpoint's base URL) and SHOT (a screenshot path) come from
// tests/node/cases/homeowner_page_in_chromium.sh.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import http from 'node:http';

const { LINK, STATUS, SHOT } = process.env;
const status = async () => (await fetch(`${STATUS}/status`)).json();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const errors = [];
const watch = (page) => {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
};
try {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await ctx.newPage();
  watch(page);
  await page.goto(LINK);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live');
  await page.waitForFunction(() => document.getElementById('policy').textContent === 'on');
  assert.equal(new URL(page.url()).hash, '', 'the secret stays out of the address bar');
  assert.ok(await page.locator('#plot').isVisible());
  assert.match(await page.locator('#sched').textContent(), /^live/);
  assert.equal(await page.locator('#plan').textContent(), 'none (energy.forecast.provider is off)');
  await page.screenshot({ path: SHOT, fullPage: true });

  await page.click('#pause');
  await page.waitForFunction(() => document.getElementById('pause').textContent === 'Resume serving');
  let s = await status();
  assert.equal(s.override.paused, true);
  await page.waitForFunction(() => document.getElementById('reason').textContent === 'paused by the homeowner');
  await page.click('#pause');
  await page.waitForFunction(() => document.getElementById('pause').textContent === 'Pause serving');
  assert.equal((await status()).override.paused, false);

  // Another origin (a server on another port) posts a form to /control.
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(req.url !== '/form' ? '<p>another site</p>'
      : `<form id="f" method="POST" enctype="text/plain" action="${STATUS}/control">
      <input name='{"paused": true, "x": "' value='"}'></form>
      <script>document.getElementById('f').submit()</script>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  const other = await ctx.newPage();
  await other.goto(`http://127.0.0.1:${evil.address().port}/`);
  // A script there tries fetch() with the JSON type (a preflight nobody answers).
  const fetched = await other.evaluate(async (url) => {
    try {
      const r = await fetch(`${url}/control`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: '{"paused": true}' });
      return `answered ${r.status}`;
    } catch (e) { return 'blocked'; }
  }, STATUS).catch(() => 'blocked');
  assert.equal(fetched, 'blocked');
  // And a form posted from there (no preflight for text/plain).
  await other.goto(`http://127.0.0.1:${evil.address().port}/form`);
  await other.waitForURL(`${STATUS}/control`);
  assert.match(await other.locator('body').textContent(), /cross-origin requests are refused/);
  evil.close();
  s = await status();
  assert.equal(s.override.paused, false, 'a cross-origin request paused the node');

  // Without the secret: the page shows and says where the controls are.
  const bare = await browser.newContext();
  const view = await bare.newPage();
  watch(view);
  await view.goto(`${STATUS}/`);
  await view.waitForFunction(() => document.getElementById('conn').textContent === 'live');
  assert.equal(await view.locator('#need-secret').isVisible(), true);
  assert.equal(await view.locator('#pause').isDisabled(), true);

  // The evil page's own errors (its blocked fetch) are not the page's.
  const ours = errors.filter((e) => !/CORS|Failed to fetch|net::ERR_FAILED|control/.test(e));
  assert.deepEqual(ours, [], `console errors: ${ours.join(' | ')}`);
  console.log('homeowner page: loads clean, pauses and resumes, refuses another origin');
} finally {
  await browser.close();
}
