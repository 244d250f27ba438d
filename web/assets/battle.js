// Battle page: ask, watch two anonymous answers stream, vote, see who they were.
import { api, ApiError, h, clear, isMac } from './common.js';
import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);
const SIDES = ['a', 'b'];
const WINNER_LABEL = { model_a: 'A is better', model_b: 'B is better', tie: 'Tie', both_bad: 'Both are bad' };

const els = {
  intro: $('intro'),
  suggestions: $('suggestions'),
  form: $('composer'),
  prompt: $('prompt'),
  send: $('send'),
  composerError: $('composer-error'),
  composerHint: $('composer-hint'),
  voteButtons: [...document.querySelectorAll('#vote-buttons button')],
  voteNote: $('vote-note'),
  result: $('result'),
  newBattle: $('new-battle'),
  pane: { a: $('pane-a'), b: $('pane-b') },
  title: { a: $('title-a'), b: $('title-b') },
  status: { a: $('status-a'), b: $('status-b') },
  body: { a: $('body-a'), b: $('body-b') },
};

const SUGGESTIONS = [
  'Explain quantum entanglement to a ten-year-old',
  'Write a Python function that merges two sorted lists',
  'Plan a relaxed three-day trip to Lisbon',
  'What are the trade-offs between SQL and NoSQL databases?',
];

/** Page state. phase: idle | starting | streaming | ready | failed | voting | voted */
const state = {
  battleId: null,
  turn: 0,
  phase: 'idle',
  es: null,
  sides: null, // { a: {text, status, error}, b: {...} } for the current turn
  dom: [], // per turn: { a: {answer, error}, b: {...} }
  pendingRender: new Set(),
  rafId: 0,
  retryTimer: 0,
  retryUntil: 0,
  epoch: 0, // bumps on "New battle" so late responses of an old battle are ignored
};

function freshSides() {
  return { a: { text: '', status: 'streaming', error: null }, b: { text: '', status: 'streaming', error: null } };
}

// ---------- rendering ----------

function scheduleRender(side) {
  state.pendingRender.add(side);
  if (!state.rafId) state.rafId = requestAnimationFrame(flushRender);
}

function flushRender() {
  state.rafId = 0;
  const stick = nearBottom();
  for (const side of state.pendingRender) renderSide(side);
  state.pendingRender.clear();
  if (stick) scrollToBottom();
}

function renderSide(side) {
  const turnDom = state.dom[state.turn - 1];
  if (!turnDom || !state.sides) return;
  const s = state.sides[side];
  const d = turnDom[side];
  d.answer.replaceChildren(renderMarkdown(s.text));
  d.answer.classList.toggle('streaming', s.status === 'streaming');
  if (s.status === 'error') {
    d.error.hidden = false;
    d.error.textContent = s.error || 'This model failed to answer.';
  } else {
    d.error.hidden = true;
    d.error.textContent = '';
  }
  renderStatus(side);
}

function renderStatus(side) {
  const box = els.status[side];
  clear(box);
  const s = state.sides && state.sides[side];
  if (state.phase === 'voted' || !s) return;
  if (s.status === 'streaming') {
    box.append(h('span', { class: 'typing', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')),
      state.reconnecting ? 'Reconnecting…' : 'Writing…');
  } else if (s.status === 'done') {
    box.append(h('span', { class: 'badge ok' }, 'Done'));
  } else if (s.status === 'error') {
    box.append(h('span', { class: 'badge danger' }, 'Failed'));
  }
}

function nearBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
}
function scrollToBottom() {
  window.scrollTo({ top: document.documentElement.scrollHeight });
}

function addTurnDom(prompt) {
  const turnDom = {};
  for (const side of SIDES) {
    const promptEl = h('div', { class: 'turn-prompt' }, h('span', { class: 'sr-only' }, 'You: '), prompt);
    const answer = h('div', { class: 'answer md streaming' });
    const error = h('div', { class: 'banner error answer-error', role: 'alert', hidden: true });
    els.body[side].append(promptEl, answer, error);
    turnDom[side] = { answer, error };
  }
  state.dom.push(turnDom);
  els.intro.hidden = true;
}

function updateControls() {
  const p = state.phase;
  const canVote = p === 'ready';
  for (const b of els.voteButtons) b.disabled = !canVote;
  const busy = p === 'starting' || p === 'streaming' || p === 'voting';
  const rateLimited = state.retryUntil > Date.now();
  els.send.disabled = busy || p === 'voted' || p === 'failed' || rateLimited;
  els.prompt.disabled = p === 'voted' || p === 'failed';
  const showResult = p === 'voted' || p === 'failed';
  const wasHidden = els.result.hidden;
  els.result.hidden = !showResult;
  if (showResult && wasHidden) requestAnimationFrame(() => els.result.scrollIntoView({ block: 'nearest' }));

  if (p === 'idle') {
    els.prompt.placeholder = 'Ask anything — two anonymous models will answer';
    setNote('Ask something to start a battle.');
  } else if (p === 'starting' || p === 'streaming') {
    els.prompt.placeholder = 'You can type a follow-up while the answers arrive…';
    setNote('Voting opens when both answers are complete.');
  } else if (p === 'ready') {
    els.prompt.placeholder = 'Ask a follow-up to both models, or vote below';
    setNote('Both answers are complete. Which one is better? You can also ask a follow-up first.');
  } else if (p === 'failed') {
    els.prompt.placeholder = 'Start a new battle to ask again';
    setNote('One of the models failed to answer, so this battle cannot be voted on. Start a new battle.');
  } else if (p === 'voted') {
    els.prompt.placeholder = 'Start a new battle to ask again';
  }
}

function setNote(text) {
  if (els.voteNote.textContent !== text) els.voteNote.textContent = text;
}

function showComposerError(message) {
  els.composerError.textContent = message;
  els.composerError.hidden = !message;
}

// ---------- actions ----------

async function send() {
  const prompt = els.prompt.value;
  if (!prompt.trim()) {
    showComposerError('Write a prompt first.');
    els.prompt.focus();
    return;
  }
  if (els.send.disabled) return;
  const p = state.phase;
  const followUp = p === 'ready' && state.battleId;
  if (!(p === 'idle' || followUp)) return;
  showComposerError('');
  const epoch = state.epoch;
  const before = state.phase;
  state.phase = 'starting';
  updateControls();
  try {
    if (followUp) {
      await api(`/api/v1/battles/${encodeURIComponent(state.battleId)}/turns`, { method: 'POST', body: { prompt } });
    } else {
      const res = await api('/api/v1/battles', { method: 'POST', body: { prompt } });
      if (!res || typeof res.battle_id !== 'string') throw new ApiError(0, 'bad_response', 'The server gave an unexpected answer. Please try again.');
      if (epoch !== state.epoch) return;
      state.battleId = res.battle_id;
    }
  } catch (e) {
    if (epoch !== state.epoch) return;
    state.phase = before;
    handleSendError(e);
    updateControls();
    return;
  }
  if (epoch !== state.epoch) return;
  els.prompt.value = '';
  autosize();
  state.turn += 1;
  state.sides = freshSides();
  addTurnDom(prompt);
  state.phase = 'streaming';
  updateControls();
  for (const side of SIDES) renderSide(side);
  scrollToBottom();
  openEvents();
}

function handleSendError(e) {
  if (e instanceof ApiError && e.status === 429) {
    const secs = e.retryAfter ?? 10;
    state.retryUntil = Date.now() + secs * 1000;
    clearInterval(state.retryTimer);
    const tick = () => {
      const left = Math.ceil((state.retryUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(state.retryTimer);
        state.retryUntil = 0;
        showComposerError('');
        updateControls();
        return;
      }
      showComposerError(`Too many requests — please slow down. You can send again in ${left} s.`);
    };
    tick();
    state.retryTimer = setInterval(tick, 1000);
    return;
  }
  showComposerError(e && e.message ? e.message : 'Something went wrong. Please try again.');
}

function openEvents() {
  closeEvents();
  const epoch = state.epoch;
  const turn = state.turn;
  const es = new EventSource(`/api/v1/battles/${encodeURIComponent(state.battleId)}/events`);
  state.es = es;
  const live = () => epoch === state.epoch && state.es === es;
  const parse = (ev) => {
    try { return JSON.parse(ev.data); } catch { return null; }
  };

  es.addEventListener('open', () => {
    if (!live()) return;
    // Every (re)connection replays the current turn from its start: start over.
    state.reconnecting = false;
    state.sides = freshSides();
    for (const side of SIDES) renderSide(side);
  });
  es.addEventListener('delta', (ev) => {
    const d = parse(ev);
    if (!live() || !d || d.turn !== turn || !state.sides[d.side] || typeof d.text !== 'string') return;
    state.sides[d.side].text += d.text;
    scheduleRender(d.side);
  });
  es.addEventListener('done', (ev) => {
    const d = parse(ev);
    if (!live() || !d || d.turn !== turn || !state.sides[d.side]) return;
    state.sides[d.side].status = 'done';
    renderSide(d.side);
  });
  es.addEventListener('error', (ev) => {
    // Two kinds of "error": the battle's own `error` event (has data) and the
    // EventSource's connection error (no data).
    if (!live()) return;
    if (ev.data !== undefined) {
      const d = parse(ev);
      if (!d || d.turn !== turn || !state.sides[d.side]) return;
      state.sides[d.side].status = 'error';
      state.sides[d.side].error = typeof d.message === 'string' && d.message ? d.message : 'This model failed to answer.';
      renderSide(d.side);
      return;
    }
    if (es.readyState === EventSource.CLOSED) {
      connectionLost();
    } else {
      state.reconnecting = true;
      for (const side of SIDES) renderStatus(side);
    }
  });
  es.addEventListener('end', (ev) => {
    const d = parse(ev);
    if (!live() || !d || d.turn !== turn) return;
    closeEvents();
    let ok = true;
    for (const side of SIDES) {
      const s = state.sides[side];
      if (s.status === 'streaming') {
        s.status = 'error';
        s.error = 'This answer did not finish.';
      }
      if (s.status !== 'done') ok = false;
    }
    for (const side of SIDES) renderSide(side);
    state.phase = ok ? 'ready' : 'failed';
    updateControls();
  });
}

async function connectionLost() {
  const epoch = state.epoch;
  closeEvents();
  let message = 'The connection to the answer stream was lost.';
  try {
    await api(`/api/v1/battles/${encodeURIComponent(state.battleId)}`);
  } catch (e) {
    if (e && e.message) message = e.message;
  }
  if (epoch !== state.epoch) return;
  for (const side of SIDES) {
    const s = state.sides[side];
    if (s.status === 'streaming') { s.status = 'error'; s.error = message; }
    renderSide(side);
  }
  state.phase = 'failed';
  updateControls();
}

function closeEvents() {
  if (state.es) {
    state.es.close();
    state.es = null;
  }
  state.reconnecting = false;
}

async function vote(winner) {
  if (state.phase !== 'ready' || !state.battleId) return;
  const epoch = state.epoch;
  state.phase = 'voting';
  updateControls();
  setNote('Recording your vote…');
  let res;
  try {
    res = await api(`/api/v1/battles/${encodeURIComponent(state.battleId)}/vote`, { method: 'POST', body: { winner } });
  } catch (e) {
    if (epoch !== state.epoch) return;
    if (e instanceof ApiError && e.code === 'already_voted') {
      // Someone (another tab) already voted: show who they were if the server tells us.
      try {
        const b = await api(`/api/v1/battles/${encodeURIComponent(state.battleId)}`);
        if (epoch !== state.epoch) return;
        if (b && b.models) {
          reveal(b.models, b.winner || null);
          setNote('This battle was already voted on.');
          return;
        }
      } catch { /* fall through */ }
    }
    state.phase = e instanceof ApiError && e.code === 'battle_failed' ? 'failed' : 'ready';
    updateControls();
    setNote(e && e.message ? e.message : 'Your vote could not be recorded. Please try again.');
    return;
  }
  if (epoch !== state.epoch) return;
  reveal(res && res.models, (res && res.winner) || winner);
  const mark = els.voteButtons.find((b) => b.dataset.winner === ((res && res.winner) || winner));
  if (mark) mark.classList.add('chosen');
  setNote(`Thanks! You voted “${WINNER_LABEL[(res && res.winner) || winner] || winner}”.`);
}

function reveal(models, winner) {
  state.phase = 'voted';
  for (const side of SIDES) {
    const m = models && models[side];
    const title = els.title[side];
    clear(title);
    title.append(h('span', { class: 'side-dot', 'aria-hidden': 'true' }), `Model ${side.toUpperCase()}: `);
    if (m && m.name) {
      title.append(h('span', { class: 'model-name' }, String(m.name)));
      if (m.organization) title.append(h('span', { class: 'model-org' }, ` · ${m.organization}`));
    } else {
      title.append(h('span', { class: 'model-org' }, 'unknown'));
    }
    const won = (winner === 'model_a' && side === 'a') || (winner === 'model_b' && side === 'b');
    const lost = (winner === 'model_a' && side === 'b') || (winner === 'model_b' && side === 'a');
    els.pane[side].classList.toggle('winner', won);
    els.pane[side].classList.toggle('loser', lost);
    clear(els.status[side]);
    if (won) els.status[side].append(h('span', { class: 'badge ok' }, 'Your pick'));
    else if (winner === 'tie') els.status[side].append(h('span', { class: 'badge accent' }, 'Tie'));
    else if (winner === 'both_bad') els.status[side].append(h('span', { class: 'badge danger' }, 'Both bad'));
  }
  updateControls();
  els.newBattle.focus({ preventScroll: true });
}

function newBattle() {
  closeEvents();
  state.epoch += 1;
  state.battleId = null;
  state.turn = 0;
  state.phase = 'idle';
  state.sides = null;
  state.dom = [];
  state.pendingRender.clear();
  for (const side of SIDES) {
    clear(els.body[side]);
    clear(els.status[side]);
    const title = els.title[side];
    clear(title);
    title.append(h('span', { class: 'side-dot', 'aria-hidden': 'true' }), h('span', { class: 'side-label' }, `Model ${side.toUpperCase()}`));
    els.pane[side].classList.remove('winner', 'loser');
  }
  for (const b of els.voteButtons) b.classList.remove('chosen');
  els.intro.hidden = false;
  showComposerError('');
  updateControls();
  window.scrollTo({ top: 0 });
  els.prompt.focus();
}

// ---------- wiring ----------

function autosize() {
  const t = els.prompt;
  t.style.height = 'auto';
  t.style.height = `${Math.min(t.scrollHeight, Math.round(window.innerHeight * 0.4))}px`;
}

function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  return target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]') !== null;
}

function init() {
  if (isMac) $('mod-key').textContent = '⌘';
  for (const text of SUGGESTIONS) {
    els.suggestions.append(h('button', {
      type: 'button',
      class: 'small',
      onclick: () => {
        els.prompt.value = text;
        autosize();
        els.prompt.focus();
      },
    }, text));
  }
  els.form.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  els.prompt.addEventListener('input', () => {
    autosize();
    if (!els.composerError.hidden && state.retryUntil <= Date.now()) showComposerError('');
  });
  els.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  for (const b of els.voteButtons) b.addEventListener('click', () => vote(b.dataset.winner));
  els.newBattle.addEventListener('click', newBattle);
  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (isTyping(e.target)) return;
    if (document.querySelector('dialog[open]')) return;
    const idx = ['1', '2', '3', '4'].indexOf(e.key);
    if (idx >= 0 && state.phase === 'ready') {
      e.preventDefault();
      vote(els.voteButtons[idx].dataset.winner);
    } else if ((e.key === 'n' || e.key === 'N') && !els.result.hidden) {
      e.preventDefault();
      newBattle();
    } else if (e.key === '/' && !els.prompt.disabled) {
      e.preventDefault();
      els.prompt.focus();
    }
  });
  window.addEventListener('pagehide', closeEvents);
  updateControls();
}

init();
