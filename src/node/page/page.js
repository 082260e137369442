// The homeowner's page: what the node sees and decides (GET /status),
// the last day (GET /history), and the controls (POST /control with the
// control secret, which the page learns from its link's #secret=... and
// keeps for the tab only). Served by weftd itself; no other origin.
'use strict';

const $ = (id) => document.getElementById(id);
const w = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} W`);

let secret = sessionStorage.getItem('weft-secret');
const m = /secret=([0-9a-f]+)/.exec(location.hash);
if (m) {
  secret = m[1];
  sessionStorage.setItem('weft-secret', secret);
  history.replaceState(null, '', location.pathname);
}
$('need-secret').hidden = !!secret;
for (const id of ['pause', 'setmax', 'nomax', 'maxw', 'quiet', 'setquiet']) $(id).disabled = !secret;

let paused = false;

function show(s) {
  const e = s.energy;
  $('policy').textContent = s.policy.state;
  $('reason').textContent = s.policy.reason;
  $('budget').textContent = w(s.policy.budget_w);
  $('pv').textContent = w(e.pv_w.value);
  $('load').textContent = w(e.load_w.value);
  $('grid').textContent = w(e.grid_w.value);
  $('battery').textContent = w(e.battery_w.value);
  $('soc').textContent = e.soc_pct.value === null ? '–' : `${Math.round(e.soc_pct.value)} %`;
  $('compute').textContent = w(e.compute_w);
  $('sched').textContent = `${s.scheduler.state}${s.scheduler.error ? ': ' + s.scheduler.error : ''}`;
  $('jobs').textContent = `${s.slots.busy} of ${s.slots.max} slots`;
  $('plan').textContent = s.plan ? s.plan.why : 'none (energy.forecast.provider is off)';
  const days = s.ledger.days;
  const today = days.length ? days[days.length - 1] : null;
  $('tokens').textContent = today ? today.tokens : 0;
  $('done').textContent = today ? today.jobs : 0;
  $('wh').textContent = today ? `${today.wh.toFixed(1)} Wh` : '0 Wh';
  $('surplus').textContent =
    today && today.wh > 0 ? `${Math.round((100 * today.surplus_wh) / today.wh)} %` : '–';
  paused = s.override.paused;
  $('pause').textContent = paused ? 'Resume serving' : 'Pause serving';
  if (document.activeElement !== $('maxw'))
    $('maxw').value = s.override.max_w === null ? '' : s.override.max_w;
  if (document.activeElement !== $('quiet')) $('quiet').value = s.override.quiet_hours.join(', ');
}

async function refresh() {
  try {
    const r = await fetch('/status', { cache: 'no-store' });
    if (!r.ok) throw new Error(`status ${r.status}`);
    show(await r.json());
    $('conn').textContent = 'live';
    $('conn').className = 'pill ok';
  } catch (err) {
    $('conn').textContent = 'no answer from weftd';
    $('conn').className = 'pill bad';
  }
}

const NS = 'http://www.w3.org/2000/svg';
function line(svg, cls, pts) {
  if (pts.length < 2) return;
  const p = document.createElementNS(NS, 'polyline');
  p.setAttribute('class', cls);
  p.setAttribute('points', pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '));
  svg.appendChild(p);
}
function text(svg, x, y, s, anchor) {
  const t = document.createElementNS(NS, 'text');
  t.setAttribute('x', x);
  t.setAttribute('y', y);
  if (anchor) t.setAttribute('text-anchor', anchor);
  t.textContent = s;
  svg.appendChild(t);
}

function chart(h) {
  const svg = $('plot');
  svg.replaceChildren();
  const L = 40, R = 560, T = 10, B = 190, now = Date.now() / 1000, from = now - 86400;
  const top = Math.max(100, ...[...h.pv_w, ...h.load_w, ...h.compute_w].filter((v) => v !== null));
  const x = (t) => L + ((R - L) * (t - from)) / 86400;
  const y = (v) => B - ((B - T) * v) / top;
  const ys = (v) => B - ((B - T) * v) / 100;
  for (const f of [0, 0.5, 1]) {
    const a = document.createElementNS(NS, 'line');
    a.setAttribute('class', 'axis');
    a.setAttribute('x1', L); a.setAttribute('x2', R);
    a.setAttribute('y1', y(top * f)); a.setAttribute('y2', y(top * f));
    svg.appendChild(a);
    text(svg, L - 4, y(top * f) + 3, `${Math.round(top * f)} W`, 'end');
    text(svg, R + 4, ys(100 * f) + 3, `${100 * f} %`);
  }
  text(svg, L, 208, '24 h ago');
  text(svg, R, 208, 'now', 'end');
  const series = (k, f) => h.t.map((t, i) => [t, h[k][i]]).filter(([, v]) => v !== null)
    .map(([t, v]) => [x(t), f(v)]);
  line(svg, 'pv', series('pv_w', y));
  line(svg, 'load', series('load_w', y));
  line(svg, 'compute', series('compute_w', y));
  line(svg, 'soc', series('soc', ys));
}

async function loadHistory() {
  try {
    const r = await fetch('/history', { cache: 'no-store' });
    if (r.ok) chart(await r.json());
  } catch (err) { /* the status line says weftd is away */ }
}

async function control(body) {
  const r = await fetch('/control', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Weft-Secret': secret },
    body: JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  $('msg').textContent = r.ok ? 'done' : `refused: ${j.error || r.status}`;
  refresh();
}

$('pause').addEventListener('click', () => control({ paused: !paused }));
$('setmax').addEventListener('click', () => control({ max_w: Number($('maxw').value) }));
$('nomax').addEventListener('click', () => control({ max_w: null }));
$('setquiet').addEventListener('click', () => {
  const text = $('quiet').value.trim();
  const wins = text ? text.split(/\s*,\s*/).map((w) => {
    const [start, end] = w.split('-');
    return { start, end };
  }) : [];
  control({ quiet_hours: wins });
});
refresh();
loadHistory();
setInterval(refresh, 2000);
setInterval(loadHistory, 60000);
