// Admin page: sign in with the admin token, manage models, see health and flagged voters.
import { api, ApiError, h, clear, fmtNumber, fmtTime, fmtRelative, copyText, toast } from './common.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'arena_admin_token';

const els = {
  signin: $('signin'),
  signinForm: $('signin-form'),
  token: $('token'),
  signinError: $('signin-error'),
  signinButton: $('signin-button'),
  app: $('app'),
  summary: $('summary'),
  appError: $('app-error'),
  refresh: $('refresh'),
  signout: $('signout'),
  models: $('models'),
  showRetired: $('show-retired'),
  addForm: $('add-form'),
  flagged: $('flagged'),
  tokenForm: $('token-form'),
  tokenLabel: $('token-label'),
  tokenOut: $('token-out'),
  confirm: $('confirm-dialog'),
  confirmTitle: $('confirm-title'),
  confirmText: $('confirm-text'),
  confirmError: $('confirm-error'),
  confirmOk: $('confirm-ok'),
  edit: $('edit-dialog'),
  editTitle: $('edit-title'),
  editForm: $('edit-form'),
};

const FIELDS = [
  { key: 'name', label: 'Name', required: true, placeholder: 'e.g. llama-3.1-70b-instruct', hint: 'Public name, revealed after votes and shown on the leaderboard.' },
  { key: 'base_url', label: 'Base URL', required: true, type: 'url', placeholder: 'http://127.0.0.1:8000/v1', hint: 'OpenAI-compatible root.' },
  { key: 'model', label: 'Upstream model', required: true, placeholder: 'e.g. meta-llama/Llama-3.1-70B-Instruct', hint: 'The model id sent to the backend.' },
  { key: 'api_key', label: 'API key', type: 'password', placeholder: 'Optional', hint: 'Write-only; never shown again.' },
  { key: 'organization', label: 'Organization', placeholder: 'e.g. Meta' },
  { key: 'license', label: 'License', placeholder: 'e.g. Llama 3.1 Community' },
  { key: 'weight', label: 'Weight', type: 'number', placeholder: '1', hint: 'Relative chance of being sampled.', number: true },
  { key: 'temperature', label: 'Temperature', type: 'number', placeholder: 'backend default', param: true, number: true },
  { key: 'max_tokens', label: 'Max tokens', type: 'number', placeholder: 'backend default', param: true, number: true, integer: true },
  { key: 'system_prompt', label: 'System prompt', textarea: true, wide: true, placeholder: 'Optional' },
];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  models: [],
  busy: false,
  pendingRetire: null,
  editing: null,
};

// ---------- auth ----------

function authed(path, opts = {}) {
  return api(path, { ...opts, token: state.token }).catch((e) => {
    if (e instanceof ApiError && e.status === 401) {
      signOut(e.message || 'Your admin token is no longer accepted. Please sign in again.');
    }
    throw e;
  });
}

async function signIn(token) {
  els.signinError.hidden = true;
  els.signinButton.disabled = true;
  try {
    const res = await api('/api/v1/admin/models', { token });
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    showApp();
    setModels(res);
    loadFlagged();
  } catch (e) {
    const msg = e instanceof ApiError && e.status === 401
      ? `That token was not accepted. ${e.message || ''}`.trim()
      : (e && e.message) || 'Sign-in failed.';
    showSignin(msg);
  } finally {
    els.signinButton.disabled = false;
  }
}

function signOut(message) {
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  showSignin(message || '');
}

function showSignin(message) {
  els.app.hidden = true;
  els.signin.hidden = false;
  els.signinError.textContent = message || '';
  els.signinError.hidden = !message;
  els.token.focus();
}

function showApp() {
  els.signin.hidden = true;
  els.app.hidden = false;
  els.token.value = '';
}

function showAppError(message) {
  els.appError.textContent = message || '';
  els.appError.hidden = !message;
}

// ---------- models ----------

async function loadModels() {
  try {
    const res = await authed('/api/v1/admin/models');
    setModels(res);
    showAppError('');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showAppError(`Could not load the models: ${e.message}`);
  }
}

function setModels(res) {
  state.models = res && Array.isArray(res.models) ? res.models : [];
  renderModels();
}

function isRetired(m) { return m.retired === true || (m.retired && m.retired !== false); }

function renderModels() {
  const all = state.models;
  const enabled = all.filter((m) => m.enabled && !isRetired(m)).length;
  const retired = all.filter(isRetired).length;
  els.summary.textContent = `${all.length - retired} models · ${enabled} enabled${retired ? ` · ${retired} retired` : ''}` +
    (enabled < 2 ? ' · at least two enabled models are needed for battles' : '');
  clear(els.models);
  const shown = all.filter((m) => els.showRetired.checked || !isRetired(m));
  if (!shown.length) {
    els.models.append(h('tr', null, h('td', { colspan: 5 }, h('div', { class: 'empty' },
      h('strong', null, 'No models yet'), 'Add one below to start running battles.'))));
    return;
  }
  for (const m of shown) els.models.append(modelRow(m));
}

function modelRow(m) {
  const name = String(m.name ?? '');
  const retired = isRetired(m);
  const status = [];
  if (retired) status.push(h('span', { class: 'badge' }, 'Retired'));
  else if (m.enabled) status.push(h('span', { class: 'badge ok' }, 'Enabled'));
  else status.push(h('span', { class: 'badge warn' }, 'Disabled'));
  const hl = m.health;
  if (!retired && hl && hl.cooling_down_until && new Date(hl.cooling_down_until).getTime() > Date.now()) {
    status.push(' ', h('span', { class: 'badge danger', title: `Cooling down until ${fmtTime(hl.cooling_down_until)}` }, 'Cooling down'));
  }

  const actions = h('div', { class: 'row-actions' });
  if (!retired) {
    actions.append(
      h('button', {
        type: 'button', class: 'small', 'aria-label': `${m.enabled ? 'Disable' : 'Enable'} ${name}`,
        onclick: (e) => toggleEnabled(m, e.currentTarget),
      }, m.enabled ? 'Disable' : 'Enable'),
      h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${name}`, onclick: () => openEdit(m) }, 'Edit'),
      h('button', { type: 'button', class: 'small danger', 'aria-label': `Retire ${name}`, onclick: () => openRetire(m) }, 'Retire'),
    );
  }

  return h('tr', { dataset: { id: String(m.id) } },
    h('th', { scope: 'row' },
      name,
      h('span', { class: 'cell-sub' }, `${m.model ?? ''} · ${m.base_url ?? ''}`),
      h('span', { class: 'cell-sub' }, [m.organization, m.license].filter(Boolean).join(' · ') || '—',
        m.has_api_key ? ' · key set' : '')),
    h('td', null, status),
    h('td', { class: 'num' }, fmtNumber(typeof m.weight === 'number' ? m.weight : Number(m.weight), 2).replace(/\.00$/, '')),
    h('td', null, healthCell(hl)),
    h('td', null, actions),
  );
}

function healthCell(hl) {
  if (!hl) return h('span', { class: 'hint' }, 'No traffic yet');
  const parts = h('div', { class: 'health' });
  const rate = typeof hl.error_rate === 'number' ? `${fmtNumber(hl.error_rate * 100, 1)}% errors` : null;
  const lat = typeof hl.p50_latency_ms === 'number' ? `p50 ${fmtNumber(hl.p50_latency_ms)} ms` : null;
  parts.append(h('span', null, [rate, lat].filter(Boolean).join(' · ') || '—'));
  if (hl.consecutive_failures) parts.append(h('span', null, `${hl.consecutive_failures} failures in a row`));
  if (hl.cooling_down_until && new Date(hl.cooling_down_until).getTime() > Date.now()) {
    parts.append(h('span', null, `Cooling down, back ${fmtRelative(hl.cooling_down_until)}`));
  }
  if (hl.last_error) parts.append(h('span', { class: 'err-text', title: String(hl.last_error) }, `Last error: ${String(hl.last_error).slice(0, 160)}`));
  return parts;
}

async function toggleEnabled(m, button) {
  button.disabled = true;
  const want = !m.enabled;
  try {
    const updated = await authed(`/api/v1/admin/models/${encodeURIComponent(m.id)}`, { method: 'PATCH', body: { enabled: want } });
    replaceModel(updated && updated.id ? updated : { ...m, enabled: want });
    toast(`${m.name} is now ${want ? 'enabled' : 'disabled'}.`);
    // Keep keyboard focus on the (re-rendered) button of this row.
    const row = els.models.querySelector(`tr[data-id="${CSS.escape(String(m.id))}"] button`);
    if (row) row.focus();
  } catch (e) {
    button.disabled = false;
    if (!(e instanceof ApiError && e.status === 401)) showAppError(`Could not ${want ? 'enable' : 'disable'} ${m.name}: ${e.message}`);
  }
}

function replaceModel(updated) {
  const i = state.models.findIndex((x) => x.id === updated.id);
  if (i >= 0) state.models[i] = { ...state.models[i], ...updated };
  else state.models.push(updated);
  renderModels();
}

// ---------- retire ----------

function openRetire(m) {
  state.pendingRetire = m;
  els.confirmTitle.textContent = `Retire ${m.name}?`;
  els.confirmText.textContent = 'It will never be sampled again. Its votes stay, and it stays on the leaderboard marked as deprecated. This cannot be undone from this page.';
  els.confirmError.hidden = true;
  els.confirmOk.disabled = false;
  els.confirm.showModal();
}

async function confirmRetire() {
  const m = state.pendingRetire;
  if (!m) return;
  els.confirmOk.disabled = true;
  try {
    await authed(`/api/v1/admin/models/${encodeURIComponent(m.id)}`, { method: 'DELETE' });
    els.confirm.close();
    toast(`${m.name} was retired.`);
    state.pendingRetire = null;
    await loadModels();
  } catch (e) {
    els.confirmOk.disabled = false;
    els.confirmError.textContent = e.message || 'Could not retire the model.';
    els.confirmError.hidden = false;
  }
}

// ---------- forms ----------

function buildFields(form, prefix, values, { editing = false } = {}) {
  clear(form);
  for (const f of FIELDS) {
    const id = `${prefix}-${f.key}`;
    const attrs = {
      id, name: f.key, placeholder: f.placeholder, autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': f.hint || (f.required && !editing) ? `${id}-hint` : null,
    };
    let input;
    if (f.textarea) {
      input = h('textarea', { ...attrs, rows: 3 });
    } else {
      input = h('input', { ...attrs, type: f.type || 'text', step: f.number ? 'any' : null, min: f.number ? '0' : null, required: f.required && !editing });
    }
    if (f.type === 'password') {
      input.setAttribute('autocomplete', 'new-password');
      if (editing) input.placeholder = values && values.has_api_key ? 'Leave blank to keep the current key' : 'No key set';
    }
    let v = values ? (f.param ? values.params && values.params[f.key] : values[f.key]) : undefined;
    if (!values && f.key === 'weight') v = 1;
    if (v !== undefined && v !== null && f.key !== 'api_key') input.value = String(v);
    form.append(h('div', { class: `field${f.wide ? ' wide' : ''}` },
      h('label', { for: id }, f.label),
      input,
      f.hint || (f.required && !editing)
        ? h('span', { class: 'hint', id: `${id}-hint` }, [f.required && !editing ? 'Required.' : '', f.hint || ''].filter(Boolean).join(' '))
        : null));
  }
  const error = h('div', { class: 'banner error wide', role: 'alert', hidden: true });
  form.append(error);
  return error;
}

/** Reads the form into {fields, params, errors}. */
function readForm(form) {
  const out = {};
  const params = {};
  const errors = [];
  for (const f of FIELDS) {
    const el = form.elements.namedItem(f.key);
    if (!el) continue;
    const raw = el.value.trim();
    let v = raw;
    if (f.number) {
      if (raw === '') v = null;
      else {
        v = Number(raw);
        if (!Number.isFinite(v) || v < 0 || (f.integer && !Number.isInteger(v))) {
          errors.push(`${f.label} must be a ${f.integer ? 'whole ' : ''}number of at least 0.`);
          continue;
        }
      }
    } else if (f.key !== 'system_prompt' && raw === '') v = null;
    else if (f.key === 'system_prompt') v = el.value === '' ? null : el.value;
    if (f.param) params[f.key] = v;
    else out[f.key] = v;
  }
  return { out, params, errors };
}

function setupAddForm() {
  const error = buildFields(els.addForm, 'add', null);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add model');
  els.addForm.append(h('div', { class: 'form-actions' },
    h('button', { type: 'reset', class: 'ghost', onclick: () => { error.hidden = true; } }, 'Clear'), submit));
  els.addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const { out, params, errors } = readForm(els.addForm);
    for (const f of FIELDS) if (f.required && !out[f.key]) errors.unshift(`${f.label} is required.`);
    if (errors.length) {
      error.textContent = errors.join(' ');
      error.hidden = false;
      return;
    }
    const body = {};
    for (const [k, v] of Object.entries(out)) if (v !== null && v !== '') body[k] = v;
    const p = {};
    for (const [k, v] of Object.entries(params)) if (v !== null) p[k] = v;
    if (Object.keys(p).length) body.params = p;
    submit.disabled = true;
    try {
      const created = await authed('/api/v1/admin/models', { method: 'POST', body });
      toast(`Added ${created && created.name ? created.name : body.name}.`);
      els.addForm.reset();
      const w = els.addForm.elements.namedItem('weight');
      if (w) w.value = '1';
      await loadModels();
    } catch (err) {
      error.textContent = err.message || 'Could not add the model.';
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
}

function openEdit(m) {
  state.editing = m;
  els.editTitle.textContent = `Edit ${m.name}`;
  const error = buildFields(els.editForm, 'edit', m, { editing: true });
  const enabled = h('input', { type: 'checkbox', id: 'edit-enabled', name: 'enabled' });
  enabled.checked = !!m.enabled;
  error.before(h('div', { class: 'field wide' }, h('label', null, enabled, ' Enabled (can be sampled for battles)')));
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save changes');
  els.editForm.append(h('div', { class: 'form-actions' },
    h('button', { type: 'button', onclick: () => els.edit.close() }, 'Cancel'), save));
  els.editForm.onsubmit = async (e) => {
    e.preventDefault();
    error.hidden = true;
    const { out, params, errors } = readForm(els.editForm);
    for (const f of FIELDS) if (f.required && !out[f.key]) errors.unshift(`${f.label} cannot be empty.`);
    if (errors.length) {
      error.textContent = errors.join(' ');
      error.hidden = false;
      return;
    }
    const body = {};
    for (const [k, v] of Object.entries(out)) {
      if (k === 'api_key') { if (v) body.api_key = v; continue; }
      const old = m[k] === undefined ? null : m[k];
      if (v !== old && !(v === null && old === '')) body[k] = v;
    }
    const oldParams = m.params && typeof m.params === 'object' ? m.params : {};
    let paramsChanged = false;
    const newParams = { ...oldParams };
    for (const [k, v] of Object.entries(params)) {
      const old = oldParams[k] === undefined ? null : oldParams[k];
      if (v !== old) {
        paramsChanged = true;
        if (v === null) delete newParams[k];
        else newParams[k] = v;
      }
    }
    if (paramsChanged) body.params = newParams;
    if (enabled.checked !== !!m.enabled) body.enabled = enabled.checked;
    if (!Object.keys(body).length) { els.edit.close(); return; }
    save.disabled = true;
    try {
      const updated = await authed(`/api/v1/admin/models/${encodeURIComponent(m.id)}`, { method: 'PATCH', body });
      replaceModel(updated && updated.id ? updated : { ...m, ...body });
      els.edit.close();
      toast(`Saved ${updated && updated.name ? updated.name : m.name}.`);
    } catch (err) {
      error.textContent = err.message || 'Could not save the changes.';
      error.hidden = false;
    } finally {
      save.disabled = false;
    }
  };
  els.edit.showModal();
  const first = els.editForm.querySelector('input');
  if (first) first.focus();
}

// ---------- flagged voters & tokens ----------

async function loadFlagged() {
  clear(els.flagged);
  try {
    const res = await authed('/api/v1/admin/flagged-voters');
    const voters = res && Array.isArray(res.voters) ? res.voters : [];
    if (!voters.length) {
      els.flagged.append(h('tr', null, h('td', { colspan: 3 }, h('div', { class: 'empty' }, 'No flagged voters.'))));
      return;
    }
    for (const v of voters) {
      els.flagged.append(h('tr', null,
        h('td', null, h('code', null, String(v.judge ?? ''))),
        h('td', { class: 'num' }, fmtNumber(Number(v.votes))),
        h('td', null, fmtTime(v.flagged_at))));
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    els.flagged.append(h('tr', null, h('td', { colspan: 3 }, h('div', { class: 'empty' }, `Could not load flagged voters: ${e.message}`))));
  }
}

async function createToken(e) {
  e.preventDefault();
  const button = $('create-token');
  button.disabled = true;
  clear(els.tokenOut);
  try {
    const res = await authed('/api/v1/admin/tokens', { method: 'POST', body: { role: 'researcher', label: els.tokenLabel.value.trim() || 'researcher' } });
    const token = res && res.token ? String(res.token) : '';
    const out = h('output', { class: 'token-out', 'aria-label': 'New researcher token' }, token);
    const copy = h('button', { type: 'button', class: 'small' }, 'Copy');
    copy.addEventListener('click', async () => { copy.textContent = (await copyText(token)) ? 'Copied' : 'Copy failed'; });
    els.tokenOut.append(out, copy, h('span', { class: 'hint wide' }, 'Copy it now: it will not be shown again.'));
    els.tokenOut.hidden = false;
    els.tokenLabel.value = '';
  } catch (err) {
    els.tokenOut.append(h('div', { class: 'banner error', role: 'alert' }, err.message || 'Could not create the token.'));
    els.tokenOut.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---------- wiring ----------

function init() {
  setupAddForm();
  els.signinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = els.token.value.trim();
    if (!t) { showSignin('Enter the admin token.'); return; }
    signIn(t);
  });
  els.signout.addEventListener('click', () => signOut(''));
  els.refresh.addEventListener('click', () => { loadModels(); loadFlagged(); });
  els.showRetired.addEventListener('change', renderModels);
  els.confirmOk.addEventListener('click', confirmRetire);
  els.confirm.addEventListener('close', () => { state.pendingRetire = null; });
  els.edit.addEventListener('close', () => { state.editing = null; clear(els.editForm); });
  els.tokenForm.addEventListener('submit', createToken);
  if (state.token) {
    els.signin.hidden = true;
    signIn(state.token);
  } else {
    showSignin('');
  }
}

init();
