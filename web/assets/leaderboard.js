// Leaderboard page: table, confidence-interval plot and win-rate heat map.
import { api, h, s, clear, fmtNumber, fmtTime } from './common.js';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10000;
const METHOD_NAME = { bt: 'Bradley–Terry', elo: 'Elo' };

const els = {
  category: $('category'),
  method: $('method'),
  meta: $('meta'),
  error: $('error'),
  rows: $('rows'),
  note: $('method-note'),
  ci: $('ci-plot'),
  heat: $('heatmap'),
};

const params = new URLSearchParams(location.search);
const state = {
  method: params.get('method') === 'elo' ? 'elo' : 'bt',
  category: params.get('category') || '',
  lastBoard: '',
  lastMatrix: '',
  board: null,
  matrix: null,
  controller: null,
};

function prettyCategory(c) {
  const t = String(c).replace(/[_-]+/g, ' ').trim();
  return t.charAt(0).toUpperCase() + t.slice(1);
}

function showError(msg) {
  els.error.textContent = msg || '';
  els.error.hidden = !msg;
}

function syncUrl() {
  const p = new URLSearchParams();
  if (state.method !== 'bt') p.set('method', state.method);
  if (state.category) p.set('category', state.category);
  const q = p.toString();
  history.replaceState(null, '', q ? `?${q}` : location.pathname);
}

async function loadCategories() {
  try {
    const res = await api('/api/v1/leaderboard/categories');
    const cats = res && Array.isArray(res.categories) ? res.categories : [];
    for (const c of cats) {
      if (typeof c !== 'string') continue;
      els.category.append(h('option', { value: c }, prettyCategory(c)));
    }
  } catch {
    // Categories are optional: "Overall" still works.
  }
  if (state.category && ![...els.category.options].some((o) => o.value === state.category)) {
    els.category.append(h('option', { value: state.category }, prettyCategory(state.category)));
  }
  els.category.value = state.category;
}

async function refresh({ force = false } = {}) {
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const q = new URLSearchParams({ method: state.method });
  if (state.category) q.set('category', state.category);
  try {
    const [board, matrix] = await Promise.all([
      api(`/api/v1/leaderboard?${q}`, { signal: controller.signal }),
      api('/api/v1/leaderboard/matrix?kind=win_rate', { signal: controller.signal }).catch((e) => {
        if (e && e.name === 'AbortError') throw e;
        return { error: e };
      }),
    ]);
    if (controller !== state.controller) return;
    showError('');
    const boardKey = JSON.stringify({ ...board, computed_at: null });
    if (force || boardKey !== state.lastBoard) {
      state.lastBoard = boardKey;
      state.board = board;
      renderTable(board);
      renderCiPlot(board);
    }
    renderMeta(board);
    const matrixKey = JSON.stringify(matrix);
    if (force || matrixKey !== state.lastMatrix) {
      state.lastMatrix = matrixKey;
      state.matrix = matrix;
      renderHeatmap(matrix, board);
    }
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    showError(`Could not load the leaderboard: ${e && e.message ? e.message : 'unknown error'}`);
  }
}

function renderMeta(board) {
  clear(els.meta);
  const models = Array.isArray(board.models) ? board.models : [];
  els.meta.append(
    h('span', null, `${fmtNumber(board.total_votes ?? 0)} votes`),
    h('span', null, `${models.length} models`),
    h('span', null, METHOD_NAME[board.method] || METHOD_NAME[state.method]),
    board.computed_at ? h('span', null, `Updated ${fmtTime(board.computed_at)}`) : null,
  );
  els.note.textContent = state.method === 'elo'
    ? 'Online Elo ratings, in vote order'
    : 'Bradley–Terry scores on the Elo scale, with robust (sandwich) 95% confidence intervals';
}

function renderTable(board) {
  clear(els.rows);
  const models = Array.isArray(board.models) ? board.models : [];
  if (!models.length || board.total_votes === 0) {
    els.rows.append(h('tr', null, h('td', { colspan: 9 },
      h('div', { class: 'empty' },
        h('strong', null, 'No votes yet'),
        state.category ? 'No battle in this category has been voted on so far. ' : 'Rankings appear after the first votes. ',
        h('a', { href: '/' }, 'Start a battle'),
        '.'))));
    return;
  }
  for (const m of models) {
    const rating = num(m.rating);
    const plus = num(m.ci_upper) - rating;
    const minus = rating - num(m.ci_lower);
    const ciText = Number.isFinite(plus) && Number.isFinite(minus) ? `+${fmtNumber(plus)} / −${fmtNumber(minus)}` : '—';
    const marks = [];
    if (m.provisional) marks.push(h('span', { class: 'badge warn mark', title: 'Few votes so far: the score may still move a lot' }, 'Provisional'));
    if (m.deprecated) marks.push(h('span', { class: 'badge mark', title: 'Retired: no longer in battles' }, 'Deprecated'));
    els.rows.append(h('tr', { class: m.deprecated ? 'deprecated' : null },
      h('td', { class: 'num' }, m.rank ?? '—'),
      h('td', { class: 'num rank-ub' }, m.rank_ub ?? '—'),
      h('th', { scope: 'row' }, h('span', { class: 'model-cell' }, String(m.name ?? '')), marks),
      h('td', { class: 'num' }, h('strong', null, fmtNumber(rating))),
      h('td', { class: 'num', title: `${fmtNumber(num(m.ci_lower))} – ${fmtNumber(num(m.ci_upper))}` }, ciText),
      h('td', { class: 'num' }, fmtNumber(num(m.votes))),
      h('td', { class: 'num' }, Number.isFinite(num(m.win_rate)) ? `${fmtNumber(num(m.win_rate) * 100, 1)}%` : '—'),
      h('td', null, m.organization ? String(m.organization) : '—'),
      h('td', null, m.license ? String(m.license) : '—'),
    ));
  }
}

function num(v) { return typeof v === 'number' ? v : Number.NaN; }

function niceTicks(lo, hi, count = 5) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((st) => span / st <= count) || mag * 10;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t * 1000) / 1000);
  return ticks;
}

function emptyChart(container, text) {
  clear(container);
  container.append(h('div', { class: 'empty' }, text));
}

function truncate(t, n) { return t.length > n ? `${t.slice(0, n - 1)}…` : t; }

function renderCiPlot(board) {
  const models = (Array.isArray(board.models) ? board.models : []).filter((m) => Number.isFinite(num(m.rating)));
  if (!models.length) { emptyChart(els.ci, 'No data yet.'); return; }
  const W = 560;
  const left = 150;
  const right = 24;
  const top = 14;
  const rowH = 26;
  const H = top + models.length * rowH + 34;
  let lo = Math.min(...models.map((m) => (Number.isFinite(num(m.ci_lower)) ? m.ci_lower : m.rating)));
  let hi = Math.max(...models.map((m) => (Number.isFinite(num(m.ci_upper)) ? m.ci_upper : m.rating)));
  const pad = Math.max(5, (hi - lo) * 0.08);
  lo -= pad; hi += pad;
  const x = (v) => left + ((v - lo) / (hi - lo)) * (W - left - right);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'ci-svg-title', width: W, height: H });
  svg.append(s('title', { id: 'ci-svg-title' }, 'Scores with 95% confidence intervals'));
  const axisY = top + models.length * rowH + 6;
  for (const t of niceTicks(lo, hi, 6)) {
    svg.append(
      s('line', { class: 'grid', x1: x(t), x2: x(t), y1: top - 4, y2: axisY }),
      s('text', { x: x(t), y: axisY + 16, 'text-anchor': 'middle', 'font-size': 11 }, String(t)),
    );
  }
  svg.append(s('line', { class: 'axis', x1: left, x2: W - right, y1: axisY, y2: axisY }));
  models.forEach((m, i) => {
    const cy = top + i * rowH + rowH / 2;
    const dep = m.deprecated ? ' deprecated' : '';
    const g = s('g', null);
    g.append(s('title', null, `${m.name}: ${fmtNumber(m.rating)} (95% CI ${fmtNumber(num(m.ci_lower))} – ${fmtNumber(num(m.ci_upper))})`));
    g.append(s('text', { class: 'label', x: left - 10, y: cy + 4, 'text-anchor': 'end', 'font-size': 12 }, truncate(String(m.name), 22)));
    if (Number.isFinite(num(m.ci_lower)) && Number.isFinite(num(m.ci_upper))) {
      g.append(s('line', { class: `ci${dep}`, x1: x(m.ci_lower), x2: x(m.ci_upper), y1: cy, y2: cy }));
    }
    g.append(s('circle', { class: `pt${dep}`, cx: x(m.rating), cy, r: 5 }));
    svg.append(g);
  });
  clear(els.ci);
  els.ci.append(svg);
}

function heatColor(v) {
  // 0 → warm (loses), 0.5 → neutral, 1 → cool (wins).
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  const t = Math.max(0, Math.min(1, v));
  const hue = t >= 0.5 ? 220 : 18;
  const strength = Math.abs(t - 0.5) * 2;
  const sat = 20 + strength * 65;
  const light = dark ? 22 + strength * 20 : 96 - strength * 42;
  return `hsl(${hue} ${sat}% ${light}%)`;
}

function renderHeatmap(matrix, board) {
  if (!matrix || matrix.error) {
    emptyChart(els.heat, matrix && matrix.error ? `Could not load the win rates: ${matrix.error.message}` : 'No data yet.');
    return;
  }
  const names = Array.isArray(matrix.models) ? matrix.models.map(String) : [];
  const values = Array.isArray(matrix.values) ? matrix.values : [];
  if (!names.length) { emptyChart(els.heat, 'No votes yet.'); return; }
  // Order like the leaderboard, best first; keep the 20 best for legibility.
  const order = new Map((board && Array.isArray(board.models) ? board.models : []).map((m, i) => [m.name, i]));
  const idx = names.map((_, i) => i).sort((a, b) => (order.get(names[a]) ?? 1e9) - (order.get(names[b]) ?? 1e9)).slice(0, 20);
  const n = idx.length;
  const cell = 40;
  const left = 140;
  const top = 110;
  const W = left + n * cell + 90;
  const H = top + n * cell + 10;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'hm-svg-title', width: W, height: H });
  svg.append(s('title', { id: 'hm-svg-title' }, 'Win rate of the row model against the column model'));
  idx.forEach((ci, c) => {
    const tx = left + c * cell + cell / 2;
    svg.append(s('text', { class: 'label', x: 0, y: 0, 'font-size': 11, transform: `translate(${tx + 4} ${top - 8}) rotate(-45)` }, truncate(names[ci], 18)));
  });
  idx.forEach((ri, r) => {
    const y = top + r * cell;
    svg.append(s('text', { class: 'label', x: left - 8, y: y + cell / 2 + 4, 'text-anchor': 'end', 'font-size': 11 }, truncate(names[ri], 20)));
    idx.forEach((ci, c) => {
      const row = Array.isArray(values[ri]) ? values[ri] : [];
      const v = row[ci];
      const g = s('g', null);
      const xPos = left + c * cell;
      if (typeof v === 'number' && Number.isFinite(v)) {
        g.append(s('title', null, `${names[ri]} vs ${names[ci]}: ${fmtNumber(v * 100, 0)}% wins`));
        g.append(s('rect', { x: xPos + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 4, fill: heatColor(v) }));
        const t = s('text', { class: 'cell-text label', x: xPos + cell / 2, y: y + cell / 2 + 4, 'text-anchor': 'middle' }, fmtNumber(v * 100, 0));
        g.append(t);
      } else {
        g.append(s('title', null, ri === ci ? names[ri] : `${names[ri]} vs ${names[ci]}: no battles`));
        g.append(s('rect', { class: 'cell-null', x: xPos + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 4 }));
      }
      svg.append(g);
    });
  });
  clear(els.heat);
  els.heat.append(svg);
}

function init() {
  for (const input of els.method.querySelectorAll('input[name="method"]')) {
    input.checked = input.value === state.method;
    input.addEventListener('change', () => {
      if (!input.checked) return;
      state.method = input.value;
      syncUrl();
      refresh({ force: true });
    });
  }
  els.category.addEventListener('change', () => {
    state.category = els.category.value;
    syncUrl();
    refresh({ force: true });
  });
  loadCategories();
  refresh({ force: true });
  setInterval(() => {
    if (document.visibilityState === 'visible') refresh();
  }, REFRESH_MS);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (state.matrix) renderHeatmap(state.matrix, state.board);
  });
}

init();
