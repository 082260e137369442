// The operator's dashboard in headless Chromium (Debian's, through
// playwright-core): /ui#key=ADMIN loads with no console error (a CSP
// violation is one), shows every node of the region live, and shows a
// node's death within its lease plus a second (events come once a
// second). UI (the link), GONE (the node that the case kills when it
// prints "kill" and reads a line back), KEYID (a key that ran one
// 5-token completion), SHOT (a screenshot path) from
// tests/sched/cases/dashboard_in_chromium.sh.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import readline from 'node:readline';

const { UI, NODES, GONE, SHOT, LEASE_MS } = process.env;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
});
const errors = [];
try {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1300, height: 700 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(UI);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live');
  const names = NODES.split(',');
  await page.waitForFunction((ns) => ns.every((n) =>
    document.querySelector(`tr[data-node="${n}"] td.state`)?.textContent === 'live'), names);
  assert.equal(await page.locator('#live').textContent(), String(names.length));
  assert.equal(new URL(page.url()).hash, '', 'the key stays out of the address bar');
  // Usage by key, and the chart once two events have come.
  assert.equal(await page.locator(`tr[data-key="${process.env.KEYID}"] td:nth-child(3)`).textContent(), '5');
  await page.waitForFunction(() => document.querySelectorAll('#plot polyline').length === 5 &&
    document.querySelectorAll('#plot2 polyline').length === 2);
  await page.screenshot({ path: SHOT, fullPage: true });

  // The case kills GONE now; its row must say so within the lease (+1 s).
  console.log('kill');
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((r) => rl.once('line', r));
  const t0 = Date.now();
  await page.waitForFunction((n) =>
    document.querySelector(`tr[data-node="${n}"] td.state`)?.textContent === 'gone', GONE,
  { timeout: Number(LEASE_MS) + 3000 });
  const took = Date.now() - t0;
  assert.equal(await page.locator('#live').textContent(), String(names.length - 1));
  assert.deepEqual(errors, [], `console errors: ${errors.join(' | ')}`);
  console.error(`dashboard: ${names.length} nodes shown, ${GONE} gone after ${took} ms`);
  rl.close();
} finally {
  await browser.close();
}
