// The Shardline console: polls ./api/state and draws it. Plain DOM and inline SVG, no build
// step and no dependency; text goes in through textContent only, never as HTML.

const POLL_MS = 1500;
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = [
  '#2f6fdf',
  '#e0662b',
  '#23a35a',
  '#b23fbf',
  '#c9a21a',
  '#1aa6b5',
  '#d43d5b',
  '#6b7a1f',
  '#5c4ee0',
  '#8c5a2b',
];
const CHART = { width: 600, height: 220, left: 56, right: 10, top: 10, bottom: 24 };
let updates = 0;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, String(v));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, String(v));
  return node;
}

function fillBody(table, rows, emptyText, columns) {
  const body = document.querySelector(`#${table} tbody`);
  body.replaceChildren(
    ...(rows.length > 0
      ? rows
      : [el('tr', { class: 'empty' }, el('td', { colspan: columns }, emptyText))]),
  );
}

function ago(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 1000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

function time(iso) {
  return new Date(iso).toLocaleTimeString();
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return '–';
  return ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function formatNumber(n) {
  return n === null || n === undefined ? '–' : String(n);
}

function colorOf(state) {
  const ids = state.history.series.map((s) => s.shardId);
  for (const shard of state.shards) if (!ids.includes(shard.shardId)) ids.push(shard.shardId);
  return (shardId) => COLORS[Math.max(0, ids.indexOf(shardId)) % COLORS.length];
}

function renderWorkers(state) {
  const rows = state.workers.map((w) =>
    el(
      'tr',
      { 'data-worker-id': w.workerId, class: w.self ? 'self' : undefined },
      el('td', {}, w.workerId + (w.self ? ' (this worker)' : '')),
      el('td', { class: 'num' }, w.shardIds.length),
      el('td', {}, w.shardIds.join(', ') || '–'),
      el('td', {}, ago(w.heartbeatAgeMs)),
    ),
  );
  fillBody('workers', rows, 'No worker has joined yet.', 4);
}

function treePrefix(depth) {
  return depth === 0 ? '' : `${'   '.repeat(depth - 1)}└─ `;
}

function renderShards(state, color) {
  const rows = state.shards.map((s) => {
    const badge = s.finished ? 'finished' : s.status;
    return el(
      'tr',
      {
        'data-shard-id': s.shardId,
        'data-stream-id': s.streamId,
        'data-status': s.status,
        'data-depth': s.depth,
      },
      el(
        'td',
        {},
        el('span', { class: 'tree' }, treePrefix(s.depth)),
        swatchOf(color(s.shardId)),
        s.shardId,
      ),
      el('td', {}, el('span', { class: `badge ${badge}` }, badge)),
      el('td', { class: 'owner' }, s.owner ?? '–'),
      el('td', { class: 'checkpoint' }, s.checkpoint ?? '–'),
      el('td', { class: 'num lag', 'data-lag-ms': s.lagMs ?? '' }, formatMs(s.lagMs)),
      el('td', { class: 'num behind' }, formatNumber(s.recordsBehind)),
      el('td', { class: 'num rate' }, formatNumber(s.recordsPerSecond)),
    );
  });
  fillBody('shards', rows, 'No shards: no lease yet and no listing.', 7);
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function renderChart(id, state, index, color) {
  const chart = document.getElementById(id);
  const series = state.history.series;
  const times = series.flatMap((s) => s.points.map((p) => p[0]));
  const values = series.flatMap((s) => s.points.map((p) => p[index]).filter((v) => v !== null));
  const { width, height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const nodes = [];
  const max = niceMax(Math.max(0, ...values));
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - (plotH * i) / 4;
    nodes.push(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y, y2: y }));
    const label = svg('text', { class: 'axis-label', x: left - 6, y: y + 4, 'text-anchor': 'end' });
    label.textContent = String(Math.round(((max * i) / 4) * 100) / 100);
    nodes.push(label);
  }
  if (times.length > 0) {
    const t0 = Math.min(...times);
    const t1 = Math.max(...times, t0 + state.history.sampleIntervalMs);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * plotW;
    const y = (v) => top + plotH - (Math.min(v, max) / max) * plotH;
    for (const s of series) {
      const points = s.points
        .filter((p) => p[index] !== null)
        .map((p) => `${x(p[0]).toFixed(1)},${y(p[index]).toFixed(1)}`);
      if (points.length === 0) continue;
      // A single sample is drawn as a short flat line so it shows.
      if (points.length === 1)
        points.push(
          `${(Number(points[0].split(',')[0]) + 4).toFixed(1)},${points[0].split(',')[1]}`,
        );
      nodes.push(
        svg('polyline', {
          'data-shard-id': s.shardId,
          points: points.join(' '),
          stroke: color(s.shardId),
        }),
      );
    }
    const span = svg('text', {
      class: 'axis-label',
      x: width - right,
      y: height - 6,
      'text-anchor': 'end',
    });
    span.textContent = `last ${Math.round((t1 - t0) / 1000)} s`;
    nodes.push(span);
  } else {
    const wait = svg('text', { class: 'axis-label', x: left + 8, y: top + 20 });
    wait.textContent = 'waiting for the first samples…';
    nodes.push(wait);
  }
  chart.replaceChildren(...nodes);
}

// Set through the CSSOM: allowed by the page's CSP, unlike a style attribute.
function swatchOf(background) {
  const swatch = el('span', { class: 'swatch' });
  swatch.style.background = background;
  return swatch;
}

function renderLegend(state, color) {
  const legend = document.getElementById('legend');
  legend.replaceChildren(
    ...state.history.series.map((s) => {
      return el('li', { 'data-shard-id': s.shardId }, swatchOf(color(s.shardId)), s.shardId);
    }),
  );
}

function renderParked(state) {
  const rows = state.parked.map((p) =>
    el(
      'tr',
      { 'data-sequence-number': p.sequenceNumber },
      el('td', {}, time(p.at)),
      el('td', {}, p.shardId),
      el('td', {}, p.sequenceNumber),
      el('td', { class: 'key' }, p.key),
      el('td', { class: 'num' }, p.attempts),
      el(
        'td',
        {},
        p.error,
        p.record === undefined
          ? ''
          : el('pre', { class: 'record' }, JSON.stringify(p.record, null, 2)),
      ),
    ),
  );
  fillBody('parked', rows, 'No record parked since this server started.', 6);
}

function renderErrors(state) {
  const rows = state.errors.map((e) =>
    el(
      'tr',
      { 'data-kind': e.kind },
      el('td', {}, time(e.at)),
      el('td', {}, e.kind),
      el('td', {}, e.shardId ?? '–'),
      el('td', {}, e.message),
    ),
  );
  fillBody('errors', rows, 'No errors since this server started.', 4);
}

function render(state) {
  const color = colorOf(state);
  document.getElementById('application').textContent = state.application;
  document.getElementById('served-by').textContent =
    state.servedBy.kind === 'worker'
      ? `served by worker ${state.servedBy.workerId}`
      : 'served by shardline console (from the lease table)';
  document.getElementById('lag-meaning').textContent = `Lag: ${state.history.lagMeaning}.`;
  renderWorkers(state);
  renderShards(state, color);
  renderChart('chart-lag', state, 1, color);
  renderChart('chart-rate', state, 2, color);
  renderLegend(state, color);
  renderParked(state);
  renderErrors(state);
  document.getElementById('notes').replaceChildren(...state.notes.map((n) => el('li', {}, n)));
  const status = document.getElementById('status');
  status.dataset.state = 'live';
  status.textContent = `live · updated ${time(state.generatedAt)}`;
  updates++;
  document.body.dataset.updates = String(updates);
}

async function poll() {
  try {
    const response = await fetch('api/state', { cache: 'no-store' });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    render(body);
  } catch (error) {
    const status = document.getElementById('status');
    status.dataset.state = 'error';
    status.textContent = `not updating: ${error.message}`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
