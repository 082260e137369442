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

function show(r) {
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
    cell(tr, num(n.grid_w), 'num');
    cell(tr, num(n.battery_w), 'num');
    cell(tr, num(n.soc), 'num');
    cell(tr, `${n.running} of ${n.slots}`, 'num');
    cell(tr, num(n.tokens), 'num');
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
