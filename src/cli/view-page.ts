// The page `gallocy view` writes: one HTML file with the model as JSON and a
// small script that draws it on a canvas. No network: no fonts, libraries or
// images from elsewhere. Only what is in view is drawn, and when a view holds
// more events than can be told apart, each lane shows how many fell in each
// pixel column instead, so a million-event trace pans and zooms as quickly as
// a small one.
import type { ViewModel } from './view-model.js';

/** JSON safe inside a <script> element. */
function embed(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function renderPage(model: ViewModel): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:">
<title>${escapeHtml(model.title)}</title>
<style>${CSS}</style></head>
<body>
<header>
  <h1>${escapeHtml(model.title)}</h1>
  <div id="violation"></div>
</header>
<nav id="controls">
  <button id="zoom-in" title="zoom in (wheel)">+</button><button id="zoom-out" title="zoom out">&minus;</button>
  <button id="zoom-fit">fit</button><button id="zoom-violation">to violation</button>
  <span id="range"></span>
  <label>group <select id="f-group"><option value="">all</option></select></label>
  <label>page <select id="f-page"><option value="">all</option></select></label>
  <label>kind <input id="f-kind" placeholder="e.g. app, grant, fault" size="16"></label>
  <span id="f-categories"></span>
  <span id="f-hosts"></span>
</nav>
<main><canvas id="timeline"></canvas><div id="tip" hidden></div></main>
<section id="history" hidden><h2>Linearizability: history per key</h2><p class="legend">
  <span class="op lin">linearized</span> in the order of the longest linearizable prefix the checker found (numbers);
  <span class="op bad">could not be ordered</span> next; <span class="op">other operations</span>.</p><div id="keys"></div></section>
<script type="application/json" id="model">${embed(model)}</script>
<script>${CLIENT}</script>
</body></html>
`;
}

const CSS = `
body { font: 13px system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 6px 10px; border-bottom: 1px solid #ddd; background: #fff; }
h1 { font-size: 15px; margin: 0 0 4px; }
#violation { color: #b00; font-weight: 600; }
#violation .msg { font-weight: 400; color: #600; }
nav { padding: 4px 10px; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; border-bottom: 1px solid #ddd; background: #fff; }
nav label { white-space: nowrap; }
#range { font-family: monospace; min-width: 220px; }
main { position: relative; }
canvas { display: block; width: 100%; cursor: grab; }
#tip { position: absolute; pointer-events: none; background: #fffbe6; border: 1px solid #cc9; padding: 3px 6px; font-family: monospace; font-size: 12px; white-space: pre; max-width: 70vw; overflow: hidden; }
#history { padding: 8px 10px; }
#history h2 { font-size: 14px; }
.key { margin: 6px 0; }
.key svg { display: block; background: #fff; border: 1px solid #ddd; }
.op { display: inline-block; padding: 0 4px; border: 1px solid #999; background: #eee; }
.op.lin { background: #cfe8cf; border-color: #5a5; }
.op.bad { background: #f6c6c6; border-color: #c33; }
`;

// The browser side, plain ES2020: reads the model, draws the view, handles zoom, pan, filters and hover.
const CLIENT = String.raw`
(() => {
'use strict';
const M = JSON.parse(document.getElementById('model').textContent);
const N = M.t.length;
const COLORS = { raft: '#3b6fb6', vmm: '#c77c0e', kv: '#7a4fb0', host: '#666', memory: '#2e8b57', fault: '#b00', client: '#7a4fb0' };
const HOST_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const LABEL_W = 110, AXIS_H = 24, LANE_H = 34, FAULT_H = 16, LEADER_H = 14, PAGE_H = 14, DETAIL_MAX = 20000;
const canvas = document.getElementById('timeline');
const ctx = canvas.getContext('2d');
const tip = document.getElementById('tip');
const valAt = new Int32Array(N + 1);
for (let i = 0; i < N; i++) valAt[i + 1] = valAt[i] + M.kindFields[M.kind[i]].length;
const related = new Set(M.violation ? M.violation.related : []);

const state = { t0: 0, t1: Math.max(1, M.end), hosts: new Set(M.lanes.map((_, i) => i)), group: null, page: null, kindText: '', categories: new Set(Object.keys(COLORS)) };
const stats = { events: 0, arrows: 0, aggregated: false, highlighted: 0 };

function eventText(i) {
  const names = M.kindFields[M.kind[i]];
  let s = (M.t[i] / 1e6).toFixed(6) + 's ' + (M.lane[i] >= 0 ? M.laneNames[M.lane[i]] : 'world') + ' ' + M.kinds[M.kind[i]];
  const at = valAt[i];
  for (let j = 0; j < names.length; j++) {
    const v = M.vals[at + j];
    s += ' ' + names[j] + '=' + (M.kindHasNote[M.kind[i]] && j === names.length - 1 ? M.notes[v] : v);
  }
  return s;
}

// Filters.
function kindMatches(k) {
  if (!state.categories.has(M.categories[k])) return false;
  if (state.kindText === '') return true;
  const name = M.kinds[k];
  return state.kindText.split(/[ ,]+/).filter(Boolean).some((w) => name.includes(w));
}
let kindOk = [];
function refreshKinds() { kindOk = M.kinds.map((_, k) => kindMatches(k)); }
function visible(i) {
  if (!kindOk[M.kind[i]]) return false;
  const l = M.lane[i];
  if (l >= 0 && !state.hosts.has(l)) return false;
  if (state.group !== null && M.group[i] !== state.group) return false;
  if (state.page !== null && M.page[i] !== state.page) return false;
  return true;
}

// Layout: axis, faults row, a lane per host, a leader row per group, a row per page.
let layout = null;
function computeLayout() {
  const rows = [];
  let y = AXIS_H;
  rows.push({ type: 'faults', y, h: FAULT_H, label: 'faults' }); y += FAULT_H;
  const laneY = new Array(M.lanes.length).fill(-1);
  M.lanes.forEach((h, i) => { if (state.hosts.has(i)) { rows.push({ type: 'lane', lane: i, y, h: LANE_H, label: M.laneNames[i] }); laneY[i] = y + LANE_H / 2; y += LANE_H; } });
  const groupRows = new Map();
  const leaderGroups = [...new Set(M.leaders.map((l) => l.group))].sort((a, b) => a - b);
  for (const g of leaderGroups) { if (state.group !== null && g !== state.group) continue; groupRows.set(g, y); rows.push({ type: 'leader', group: g, y, h: LEADER_H, label: 'leader g' + g }); y += LEADER_H; }
  const pageRows = new Map();
  const heldPages = [...new Set(M.holders.map((h) => h.page))].sort((a, b) => a - b);
  for (const p of heldPages) { if (state.page !== null && p !== state.page) continue; pageRows.set(p, y); rows.push({ type: 'page', page: p, y, h: PAGE_H, label: 'page ' + p }); y += PAGE_H; }
  layout = { rows, laneY, groupRows, pageRows, height: y + 8 };
}

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 1000;
  canvas.style.height = layout.height + 'px';
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(layout.height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}
const width = () => canvas.clientWidth || 1000;
const xOf = (t) => LABEL_W + (t - state.t0) / (state.t1 - state.t0) * (width() - LABEL_W - 10);
const tOf = (x) => state.t0 + (x - LABEL_W) / (width() - LABEL_W - 10) * (state.t1 - state.t0);
function lowerBound(t) { let lo = 0, hi = N; while (lo < hi) { const mid = (lo + hi) >> 1; if (M.t[mid] < t) lo = mid + 1; else hi = mid; } return lo; }

function draw() {
  const W = width();
  ctx.clearRect(0, 0, W, layout.height);
  ctx.font = '11px sans-serif';
  // Rows and labels.
  for (const r of layout.rows) {
    ctx.fillStyle = r.type === 'lane' ? '#fff' : '#f3f3f3';
    ctx.fillRect(0, r.y, W, r.h);
    ctx.strokeStyle = '#e2e2e2'; ctx.beginPath(); ctx.moveTo(0, r.y + r.h - 0.5); ctx.lineTo(W, r.y + r.h - 0.5); ctx.stroke();
    ctx.fillStyle = '#333'; ctx.font = r.h < 20 ? '10px sans-serif' : '11px sans-serif'; ctx.fillText(r.label, 6, r.y + r.h / 2 + 4);
  }
  // Axis.
  ctx.fillStyle = '#333';
  const span = state.t1 - state.t0;
  const step = Math.pow(10, Math.floor(Math.log10(span / 6)));
  const tick = span / step > 30 ? step * 5 : span / step > 12 ? step * 2 : step;
  for (let t = Math.ceil(state.t0 / tick) * tick; t <= state.t1; t += tick) {
    const x = xOf(t);
    ctx.fillRect(x, AXIS_H - 6, 1, 6);
    ctx.fillText((t / 1e6).toFixed(Math.max(0, Math.ceil(-Math.log10(tick / 1e6)))) + 's', x + 2, AXIS_H - 9);
  }
  ctx.font = '11px sans-serif';
  ctx.save();
  ctx.beginPath(); ctx.rect(LABEL_W, 0, W - LABEL_W, layout.height); ctx.clip();
  // Network faults: shaded across every lane; host faults: shaded on the host's lane.
  const faultsRow = layout.rows[0];
  for (const f of M.netFaults) {
    if (f.to < state.t0 || f.from > state.t1) continue;
    const x0 = xOf(f.from), x1 = Math.max(x0 + 2, xOf(f.to));
    ctx.fillStyle = 'rgba(200,0,0,0.07)'; ctx.fillRect(x0, faultsRow.y, x1 - x0, layout.height - faultsRow.y);
    ctx.fillStyle = 'rgba(200,0,0,0.5)'; ctx.fillRect(x0, faultsRow.y + 2, x1 - x0, FAULT_H - 4);
    ctx.fillStyle = '#fff'; if (x1 - x0 > 40) ctx.fillText(f.kind, x0 + 3, faultsRow.y + 12);
  }
  for (const s of M.spans) {
    const y = layout.laneY[s.lane];
    if (y < 0 || s.to < state.t0 || s.from > state.t1) continue;
    const x0 = xOf(s.from), x1 = Math.max(x0 + 2, xOf(s.to));
    ctx.fillStyle = s.what === 'down' ? 'rgba(120,120,120,0.35)' : 'rgba(230,160,0,0.3)';
    ctx.fillRect(x0, y - LANE_H / 2 + 1, x1 - x0, LANE_H - 2);
    ctx.fillStyle = '#555'; if (x1 - x0 > 36) ctx.fillText(s.what, x0 + 3, y + LANE_H / 2 - 4);
  }
  // Leaders per group and page holders, colored by host.
  for (const l of M.leaders) {
    const y = layout.groupRows.get(l.group);
    if (y === undefined || l.to < state.t0 || l.from > state.t1) continue;
    // A rival leader of the same term (slot 1 and on) takes the row's lower half, at least a few pixels wide.
    const x0 = xOf(l.from), x1 = Math.max(x0 + (l.slot > 0 ? 4 : 1), xOf(l.to));
    const top = l.slot > 0 ? y + LEADER_H / 2 : y + 2, h = l.slot > 0 ? LEADER_H / 2 - 1 : LEADER_H - 4;
    ctx.fillStyle = HOST_COLORS[l.lane % HOST_COLORS.length]; ctx.fillRect(x0, top, x1 - x0, h);
    if (l.slot === 0 && x1 - x0 > 50) { ctx.fillStyle = '#fff'; ctx.fillText(M.laneNames[l.lane] + ' t' + l.term, x0 + 2, y + LEADER_H - 3); }
  }
  for (const h of M.holders) {
    const y = layout.pageRows.get(h.page);
    if (y === undefined || !state.hosts.has(h.lane) || h.to < state.t0 || h.from > state.t1) continue;
    const x0 = xOf(h.from), x1 = Math.max(x0 + 1, xOf(h.to));
    ctx.globalAlpha = h.mode === 'write' ? 0.9 : 0.4;
    ctx.fillStyle = HOST_COLORS[h.lane % HOST_COLORS.length]; ctx.fillRect(x0, y + 1, x1 - x0, PAGE_H - 2);
    ctx.globalAlpha = 1;
  }
  // Events: each one, or per pixel column when there are too many to tell apart.
  const lo = lowerBound(state.t0), hi = lowerBound(state.t1 + 1);
  stats.events = 0; stats.arrows = 0; stats.highlighted = 0; stats.aggregated = hi - lo > DETAIL_MAX;
  if (stats.aggregated) {
    // The hot loop of a big trace: typed arrays and one multiplication per event.
    const cols = Math.max(1, Math.ceil(W - LABEL_W));
    const counts = new Map();
    const scale = (W - LABEL_W - 10) / (state.t1 - state.t0);
    const t = M.t, lanes = M.lane, kinds = M.kind, groups = M.group, pages = M.page;
    const hostOn = new Uint8Array(M.lanes.length); for (const l of state.hosts) hostOn[l] = 1;
    const kindOn = Uint8Array.from(kindOk, (b) => (b ? 1 : 0));
    const g = state.group, p = state.page;
    for (let i = lo; i < hi; i++) {
      const l = lanes[i];
      if (l < 0 || hostOn[l] === 0 || kindOn[kinds[i]] === 0 || (g !== null && groups[i] !== g) || (p !== null && pages[i] !== p)) continue;
      let c = counts.get(l); if (c === undefined) { c = new Uint32Array(cols + 1); counts.set(l, c); }
      const x = Math.floor((t[i] - state.t0) * scale);
      c[x < 0 ? 0 : x > cols ? cols : x]++;
      stats.events++;
    }
    for (const [l, c] of counts) {
      const y = layout.laneY[l];
      if (y < 0) continue;
      let max = 1; for (let x = 0; x <= cols; x++) if (c[x] > max) max = c[x];
      ctx.fillStyle = '#3b6fb6';
      for (let x = 0; x <= cols; x++) if (c[x] > 0) { const h = Math.max(1, (LANE_H - 6) * Math.log1p(c[x]) / Math.log1p(max)); ctx.fillRect(LABEL_W + x, y + LANE_H / 2 - 3 - h, 1, h); }
    }
  } else {
    for (let i = lo; i < hi; i++) {
      if (!visible(i)) continue;
      const l = M.lane[i];
      const cat = M.categories[M.kind[i]];
      const x = xOf(M.t[i]);
      stats.events++;
      if (l < 0) { ctx.fillStyle = COLORS.fault; ctx.fillRect(x - 1, faultsRow.y, 2, FAULT_H); continue; }
      const y = layout.laneY[l];
      if (y < 0) continue;
      const fl = M.fromLane[i];
      if (fl >= 0 && layout.laneY[fl] >= 0 && fl !== l) {
        const x0 = xOf(M.sentAt[i]), y0 = layout.laneY[fl];
        ctx.strokeStyle = COLORS[cat]; ctx.globalAlpha = related.has(i) ? 1 : 0.45; ctx.lineWidth = related.has(i) ? 2 : 1;
        ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x, y); ctx.stroke();
        const a = Math.atan2(y - y0, x - x0);
        ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x - 6 * Math.cos(a - 0.4), y - 6 * Math.sin(a - 0.4)); ctx.lineTo(x - 6 * Math.cos(a + 0.4), y - 6 * Math.sin(a + 0.4)); ctx.closePath();
        ctx.fillStyle = COLORS[cat]; ctx.fill();
        ctx.globalAlpha = 1; ctx.lineWidth = 1;
        stats.arrows++;
      } else {
        ctx.fillStyle = COLORS[cat]; ctx.fillRect(x - 1, y - 6, 2, 12);
      }
      if (related.has(i)) { ctx.strokeStyle = '#f90'; ctx.lineWidth = 2; ctx.strokeRect(x - 4, y - 8, 8, 16); ctx.lineWidth = 1; stats.highlighted++; }
    }
  }
  // The violation.
  if (M.violation && M.violation.t >= state.t0 && M.violation.t <= state.t1) {
    const x = xOf(M.violation.t);
    ctx.fillStyle = '#d00'; ctx.fillRect(x - 1, AXIS_H, 3, layout.height - AXIS_H);
    ctx.font = 'bold 12px sans-serif'; ctx.fillText('\u2716 ' + M.violation.invariant, Math.min(x + 5, W - 200), AXIS_H + 12);
  }
  ctx.restore();
  canvas.dataset.events = String(stats.events);
  canvas.dataset.arrows = String(stats.arrows);
  canvas.dataset.highlighted = String(stats.highlighted);
  canvas.dataset.aggregated = String(stats.aggregated);
  document.getElementById('range').textContent = (state.t0 / 1e6).toFixed(6) + ' s \u2013 ' + (state.t1 / 1e6).toFixed(6) + ' s' + (stats.aggregated ? '  (' + stats.events + ' events: counts per pixel; zoom in for each)' : '');
}
let pending = false;
function redraw() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } }
function relayout() { computeLayout(); resize(); draw(); }

// Zoom and pan.
function zoom(factor, atX) {
  const t = tOf(atX === undefined ? (LABEL_W + width()) / 2 : atX);
  const span = Math.max(10, Math.min(Math.max(1, M.end) * 1.2, (state.t1 - state.t0) * factor));
  const f = (t - state.t0) / (state.t1 - state.t0);
  state.t0 = t - f * span; state.t1 = state.t0 + span;
  redraw();
}
canvas.addEventListener('wheel', (e) => { e.preventDefault(); zoom(e.deltaY > 0 ? 1.25 : 0.8, e.offsetX); }, { passive: false });
let drag = null;
canvas.addEventListener('mousedown', (e) => { drag = { x: e.clientX, t0: state.t0, t1: state.t1 }; canvas.style.cursor = 'grabbing'; });
window.addEventListener('mouseup', () => { drag = null; canvas.style.cursor = 'grab'; });
window.addEventListener('mousemove', (e) => {
  if (drag === null) return;
  const dt = (e.clientX - drag.x) / (width() - LABEL_W - 10) * (drag.t1 - drag.t0);
  state.t0 = drag.t0 - dt; state.t1 = drag.t1 - dt; redraw();
});
document.getElementById('zoom-in').onclick = () => zoom(0.5);
document.getElementById('zoom-out').onclick = () => zoom(2);
document.getElementById('zoom-fit').onclick = () => { state.t0 = 0; state.t1 = Math.max(1, M.end); redraw(); };
function toViolation() {
  if (!M.violation) return;
  const rel = M.violation.related;
  const from = rel.length > 0 ? M.t[rel[0]] : M.violation.t - 1000;
  const pad = Math.max(500, (M.violation.t - from) * 0.1);
  state.t0 = from - pad; state.t1 = M.violation.t + pad; redraw();
}
document.getElementById('zoom-violation').onclick = toViolation;

// Hover: the nearest drawn event on the lane under the pointer.
canvas.addEventListener('mousemove', (e) => {
  if (drag !== null || stats.aggregated) { tip.hidden = true; return; }
  const row = layout.rows.find((r) => e.offsetY >= r.y && e.offsetY < r.y + r.h);
  if (!row || (row.type !== 'lane' && row.type !== 'faults')) { tip.hidden = true; return; }
  const lane = row.type === 'lane' ? row.lane : -1;
  const lo = lowerBound(tOf(e.offsetX - 5)), hi = lowerBound(tOf(e.offsetX + 5));
  let best = -1, bestD = 6;
  for (let i = lo; i < hi; i++) { if (M.lane[i] !== lane || !visible(i)) continue; const d = Math.abs(xOf(M.t[i]) - e.offsetX); if (d < bestD) { bestD = d; best = i; } }
  if (best < 0) { tip.hidden = true; return; }
  tip.textContent = eventText(best) + (M.fromLane[best] >= 0 ? '\n  from ' + M.laneNames[M.fromLane[best]] + ' (sent by ' + (M.sentAt[best] / 1e6).toFixed(6) + 's)' : '') + (related.has(best) ? '\n  led to the violation' : '');
  tip.hidden = false; tip.style.left = Math.min(e.offsetX + 12, width() - 300) + 'px'; tip.style.top = (e.offsetY + 14) + 'px';
});
canvas.addEventListener('mouseleave', () => { tip.hidden = true; });

// Filter controls.
const groupSel = document.getElementById('f-group');
for (const g of M.groups) groupSel.add(new Option('g' + g, String(g)));
groupSel.onchange = () => { state.group = groupSel.value === '' ? null : Number(groupSel.value); relayout(); };
const pageSel = document.getElementById('f-page');
for (const p of M.pages) pageSel.add(new Option(String(p), String(p)));
pageSel.onchange = () => { state.page = pageSel.value === '' ? null : Number(pageSel.value); relayout(); };
const kindInput = document.getElementById('f-kind');
kindInput.oninput = () => { state.kindText = kindInput.value.trim(); refreshKinds(); redraw(); };
const cats = document.getElementById('f-categories');
for (const c of [...new Set(M.categories)]) {
  const label = document.createElement('label');
  const box = document.createElement('input'); box.type = 'checkbox'; box.checked = true; box.dataset.category = c;
  box.onchange = () => { if (box.checked) state.categories.add(c); else state.categories.delete(c); refreshKinds(); redraw(); };
  label.append(box, ' ' + c); label.style.color = COLORS[c]; cats.append(label);
}
const hostsBox = document.getElementById('f-hosts');
M.lanes.forEach((h, i) => {
  const label = document.createElement('label');
  const box = document.createElement('input'); box.type = 'checkbox'; box.checked = true; box.dataset.lane = M.laneNames[i];
  box.onchange = () => { if (box.checked) state.hosts.add(i); else state.hosts.delete(i); relayout(); };
  label.append(box, ' ' + M.laneNames[i]); hostsBox.append(label);
});

// The violation's summary, and a linearizability failure's history per key.
const vBox = document.getElementById('violation');
if (M.violation) {
  vBox.textContent = 'VIOLATION ' + M.violation.invariant + ' at ' + (M.violation.t / 1e6).toFixed(6) + ' s: ';
  const msg = document.createElement('span'); msg.className = 'msg'; msg.textContent = M.violation.message; vBox.append(msg);
} else vBox.textContent = 'no violation in this trace';
if (M.history && M.history.length > 0) {
  document.getElementById('history').hidden = false;
  const keys = document.getElementById('keys');
  const NS = 'http://www.w3.org/2000/svg';
  for (const k of M.history) {
    const div = document.createElement('div'); div.className = 'key';
    const h = document.createElement('h3'); h.textContent = 'key ' + k.key + ': ' + k.ops.length + ' operations, ' + k.linearized.length + ' linearized, ' + k.unordered.length + ' could not be ordered';
    div.append(h);
    // Around the failure: from the last few linearized operations to the end of those that could not be ordered.
    const endOf = (o) => (o.ret === null ? o.call : o.ret);
    const focus = k.unordered.length > 0 ? [...k.linearized.slice(-8), ...k.unordered].map((i) => k.ops[i]) : k.ops;
    const t0 = Math.min(...focus.map((o) => o.call)), t1 = Math.max(...focus.map(endOf));
    const shown = k.ops.map((o, i) => i).filter((i) => endOf(k.ops[i]) >= t0 && k.ops[i].call <= t1);
    if (shown.length < k.ops.length) { const p = document.createElement('p'); p.textContent = 'the ' + shown.length + ' operations around where the search got stuck, ' + (t0 / 1e6).toFixed(6) + ' s to ' + (t1 / 1e6).toFixed(6) + ' s'; div.append(p); }
    const clients = [...new Set(shown.map((i) => k.ops[i].client))].sort((a, b) => a - b);
    const w = Math.max(600, (canvas.clientWidth || 1000) - 20), rowH = 22;
    const svg = document.createElementNS(NS, 'svg'); svg.setAttribute('width', String(w)); svg.setAttribute('height', String(clients.length * rowH + 10));
    const x = (t) => 80 + (Math.min(t1, Math.max(t0, t)) - t0) / Math.max(1, t1 - t0) * (w - 100);
    clients.forEach((c, ci) => { const tx = document.createElementNS(NS, 'text'); tx.setAttribute('x', '4'); tx.setAttribute('y', String(ci * rowH + 19)); tx.textContent = 'client ' + c; svg.append(tx); });
    shown.forEach((oi) => {
      const o = k.ops[oi];
      const y = clients.indexOf(o.client) * rowH + 6;
      const order = k.linearized.indexOf(oi);
      const r = document.createElementNS(NS, 'rect');
      const xe = o.ret === null ? w - 20 : x(o.ret);
      r.setAttribute('x', String(x(o.call))); r.setAttribute('y', String(y)); r.setAttribute('width', String(Math.max(3, xe - x(o.call)))); r.setAttribute('height', String(rowH - 6));
      r.setAttribute('class', 'hop ' + (order >= 0 ? 'lin' : k.unordered.includes(oi) ? 'bad' : 'other'));
      r.setAttribute('fill', order >= 0 ? '#cfe8cf' : k.unordered.includes(oi) ? '#f6c6c6' : '#eee'); r.setAttribute('stroke', '#777');
      const title = document.createElementNS(NS, 'title'); title.textContent = 'client ' + o.client + ' ' + o.op + ' [' + o.call + ', ' + (o.ret === null ? 'pending' : o.ret) + '] us'; r.append(title);
      svg.append(r);
      const label = document.createElementNS(NS, 'text'); label.setAttribute('x', String(x(o.call) + 2)); label.setAttribute('y', String(y + 12)); label.setAttribute('font-size', '10');
      label.textContent = (order >= 0 ? (order + 1) + '. ' : '') + o.op; svg.append(label);
    });
    div.append(svg); keys.append(div);
  }
}

refreshKinds();
computeLayout();
resize();
if (M.violation) toViolation();
draw();
window.addEventListener('resize', relayout);
window.gallocyView = { state, stats, model: M, redraw: draw, xOf, rows: () => layout.rows };
document.body.dataset.ready = 'true';
})();
`;
