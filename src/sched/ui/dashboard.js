// The operator's dashboard: the region now (GET /v1/admin/region) and then
// as it changes (GET /v1/admin/events, server-sent events read through
// fetch so that they can carry the admin key, which the page learns from
// its link's #key=... and keeps for the tab only).
'use strict';

const $ = (id) => document.getElementById(id);
let key = sessionStorage.getItem('weft-admin-key');
const m = /key=([A-Za-z0-9._-]+)/.exec(location.hash);
if (m) {
  key = m[1];
  sessionStorage.setItem('weft-admin-key', key);
  history.replaceState(null, '', location.pathname);
}
$('need-key').hidden = !!key;

const num = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${Math.round(v)}`);
function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

// Rates and the chart come from the events themselves: tokens/s per node is
// the change in its count between two events; the chart keeps the last
// hour of them.
const seen = new Map(); // node -> [time s, tokens]
const rates = new Map();
const points = []; // {t, pv, budget, compute, rate}

function track(r) {
  const now = Date.now() / 1000;
  let total = 0;
  for (const n of r.nodes) {
    const last = seen.get(n.name);
    if (last && now > last[0]) rates.set(n.name, Math.max(0, (n.tokens - last[1]) / (now - last[0])));
    seen.set(n.name, [now, n.tokens]);
    if (n.state === 'live') total += rates.get(n.name) || 0;
  }
  const live = r.nodes.filter((n) => n.state === 'live');
  const sum = (k) => live.reduce((a, n) => a + (n[k] || 0), 0);
  const socs = live.map((n) => n.soc).filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  points.push({ t: now, pv: sum('pv_w'), load: sum('load_w'), grid: sum('grid_w'), budget: sum('budget_w'),
    compute: sum('compute_w'), rate: total, soc: socs.length ? socs.reduce((a, v) => a + v, 0) / socs.length : 0 });
  while (points.length && points[0].t < now - 3600) points.shift();
}

const NS = 'http://www.w3.org/2000/svg';
// One chart: series [key, class, axis] over an axis pair ([lo, hi, unit]
// left and, where given, right).
function plot(svg, B, series, left, right) {
  svg.replaceChildren();
  if (points.length < 2) return;
  const L = 50, R = 750, T = 10, t0 = points[0].t, t1 = points[points.length - 1].t;
  const x = (t) => L + ((R - L) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (v, [lo, hi]) => B - ((B - T) * (v - lo)) / (hi - lo);
  const add = (name, attrs, text) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
  };
  for (const f of [0, 0.5, 1]) {
    const py = B - (B - T) * f;
    add('line', { class: 'axis', x1: L, x2: R, y1: py, y2: py });
    add('text', { x: L - 4, y: py + 3, 'text-anchor': 'end' },
      `${(left[0] + (left[1] - left[0]) * f).toFixed(left[2] === 'W' ? 0 : 1)} ${left[2]}`);
    if (right) add('text', { x: R + 4, y: py + 3 }, `${Math.round(right[0] + (right[1] - right[0]) * f)} ${right[2]}`);
  }
  for (const [k, cls, axis] of series) {
    const a = axis === 'right' ? right : left;
    add('polyline', { class: cls, points: points.map((p) => `${x(p.t).toFixed(1)},${y(p[k], a).toFixed(1)}`).join(' ') });
  }
}

function chart() {
  const w = points.flatMap((p) => [p.pv, p.load, p.grid, p.budget, p.compute]);
  const lo = Math.min(0, ...w), hi = Math.max(100, ...w);
  plot($('plot'), 180, [['pv', 'pv'], ['load', 'load'], ['grid', 'grid'], ['budget', 'budget'],
    ['compute', 'compute']], [lo, hi, 'W']);
  plot($('plot2'), 100, [['rate', 'rate'], ['soc', 'soc', 'right']],
    [0, Math.max(1, ...points.map((p) => p.rate)), '/s'], [0, 100, '%']);
}

function show(r) {
  track(r);
  chart();
  $('wh').textContent = r.energy.wh.toFixed(2);
  $('share').textContent = r.energy.surplus_share === null ? '–' : `${Math.round(100 * r.energy.surplus_share)} %`;
  $('usage').replaceChildren(...r.usage.map((u) => {
    const tr = document.createElement('tr');
    tr.dataset.key = u.key;
    cell(tr, u.key);
    cell(tr, u.jobs, 'num');
    cell(tr, u.tokens, 'num');
    return tr;
  }));
  $('live').textContent = r.nodes_live;
  $('queued').textContent = r.queued;
  $('running').textContent = r.running;
  $('budget').textContent = num(r.nodes.filter((n) => n.state === 'live')
    .reduce((a, n) => a + n.budget_w, 0));
  $('failovers').textContent = r.last_hour.failovers;
  $('yields').textContent = r.last_hour.yields;
  $('tokens').textContent = r.last_hour.tokens;
  const rows = r.nodes.map((n) => {
    const tr = document.createElement('tr');
    tr.className = n.state;
    tr.dataset.node = n.name;
    cell(tr, n.name);
    cell(tr, n.state, `state ${n.state}`);
    cell(tr, n.models.join(', '));
    cell(tr, n.hardware);
    cell(tr, n.policy_state);
    cell(tr, num(n.budget_w), 'num');
    cell(tr, num(n.pv_w), 'num');
    cell(tr, num(n.load_w), 'num');
    cell(tr, num(n.grid_w), 'num');
    cell(tr, num(n.battery_w), 'num');
    cell(tr, num(n.soc), 'num');
    cell(tr, num(n.compute_w), 'num');
    cell(tr, `${n.running} of ${n.slots}`, 'num');
    cell(tr, num(n.tokens), 'num');
    cell(tr, rates.has(n.name) ? rates.get(n.name).toFixed(1) : '–', 'num');
    cell(tr, n.wh.toFixed(3), 'num');
    cell(tr, `${(n.last_seen_ms_ago / 1000).toFixed(1)} s ago`, 'num');
    return tr;
  });
  $('nodes').replaceChildren(...rows);
  $('models').replaceChildren(...r.by_model.map((x) => {
    const tr = document.createElement('tr');
    cell(tr, x.model);
    cell(tr, x.queued_interactive, 'num');
    cell(tr, x.queued_deferrable, 'num');
    cell(tr, x.running, 'num');
    return tr;
  }));
}

function state(text, ok) {
  $('conn').textContent = text;
  $('conn').className = `pill ${ok ? 'ok' : 'bad'}`;
}

async function follow() {
  const auth = { Authorization: `Bearer ${key}` };
  for (;;) {
    try {
      const first = await fetch('/v1/admin/region', { headers: auth, cache: 'no-store' });
      if (first.status === 401 || first.status === 403) {
        state('the key is not an admin key', false);
        return;
      }
      show(await first.json());
      const r = await fetch('/v1/admin/events', { headers: auth, cache: 'no-store' });
      if (!r.ok || !r.body) throw new Error(`events: ${r.status}`);
      state('live', true);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let at;
        while ((at = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, at);
          buf = buf.slice(at + 2);
          const data = ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) show(JSON.parse(data));
        }
      }
    } catch (err) {
      state('no answer from the scheduler', false);
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
}

if (key) follow();
else state('no key', false);
