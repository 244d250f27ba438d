// Browser tests for Arena's web pages, driven like a person would use them.
// Runs the real server (`$ARENA_BIN serve --demo`) on a loopback port and
// Debian's Chromium through playwright-core. See README.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const ARTIFACTS = path.join(REPO, 'test-artifacts', 'browser');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT = 20_000; // generous wait for any condition
const TEST_TIMEOUT = 90_000;

const ADMIN_TOKEN = crypto.randomBytes(18).toString('hex');
const problems = []; // console errors and page errors, across all scenarios
const revealed = new Set(); // model names revealed by votes, for the leaderboard check

let server;
let serverLog = '';
let base;
let tmpdir;
let browser;
let context;

function findBinary() {
  if (process.env.ARENA_BIN) return process.env.ARENA_BIN;
  for (const p of ['target/debug/arena', 'target/release/arena']) {
    const full = path.join(REPO, p);
    if (fs.existsSync(full)) return full;
  }
  throw new Error('Set ARENA_BIN to the arena binary (for example target/debug/arena).');
}

function startServer() {
  const bin = findBinary();
  tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), 'arena-browser-'));
  const args = ['serve', '--demo', '--addr', '127.0.0.1:0', '--database-url', `sqlite://${path.join(tmpdir, 'arena.db')}`];
  server = spawn(bin, args, {
    cwd: tmpdir,
    env: {
      ...process.env,
      ARENA_ADMIN_TOKEN: ADMIN_TOKEN,
      ARENA_DEMO_PACE_MS: '5',
      ARENA_BATTLES_PER_MINUTE: '0',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The server did not print "listening on http://…" within 60 s. Its output:\n${serverLog}`)), 60_000);
    const onData = (chunk) => {
      serverLog += chunk.toString();
      // eslint-disable-next-line no-control-regex
      const m = /listening on http:\/\/(\S+)\r?\n/.exec(serverLog.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1].replace(/\/+$/, '')}`);
      }
    };
    server.stderr.on('data', onData);
    server.stdout.on('data', onData);
    server.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`The server exited early (code ${code}, signal ${signal}). Its output:\n${serverLog}`));
    });
    server.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  const t = setTimeout(() => server.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

/** Polls `fn` until it returns a truthy value, or fails with `what`. */
async function until(fn, what, timeout = TIMEOUT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`Timed out after ${timeout} ms waiting for: ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function newPage(label) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`[${label}] console error: ${msg.text()} (${msg.location().url || 'no url'})`);
  });
  page.on('pageerror', (err) => problems.push(`[${label}] page error: ${err.message}`));
  return page;
}

async function shot(page, name, opts = {}) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: opts.fullPage ?? true });
}

async function adminApi(method, p, body) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const voteButton = (page, name) => page.getByRole('button', { name, exact: true });
const region = (page, side) => page.getByRole('region', { name: `Model ${side}`, exact: true });

async function voteButtonsEnabled(page) {
  for (const name of ['A is better', 'B is better', 'Tie', 'Both are bad']) {
    if (!(await voteButton(page, name).isEnabled())) return false;
  }
  return true;
}

/** Text of a region without its heading and the given prompts: the answers. */
async function answerText(page, side, prompts) {
  let t = await region(page, side).innerText();
  t = t.replace(`Model ${side}`, '');
  for (const p of prompts) t = t.split(p).join('');
  return t.replace(/\b(Writing…|Done|Reconnecting…|You:)/g, '').trim();
}

async function sendAndWait(page, prompt, { allPrompts, useShortcut = false } = {}) {
  await page.getByLabel('Prompt').fill(prompt);
  if (useShortcut) await page.getByLabel('Prompt').press('Control+Enter');
  else await page.getByRole('button', { name: 'Send', exact: true }).click();
  await until(() => voteButtonsEnabled(page), 'the four vote buttons to become enabled');
  for (const side of ['A', 'B']) {
    const text = await answerText(page, side, allPrompts || [prompt]);
    assert.ok(text.length > 0, `region Model ${side} should show an answer`);
  }
}

async function expectRevealed(page) {
  const names = {};
  for (const side of ['A', 'B']) {
    const text = await until(async () => {
      const t = await region(page, side).innerText();
      return /Model [AB]:\s*\S/.test(t) ? t : null;
    }, `region Model ${side} to show its model's name`);
    const m = new RegExp(`Model ${side}:\\s*([^\\s·]+)`).exec(text);
    assert.ok(m, `region Model ${side} shows "Model ${side}: <name>"`);
    names[side] = m[1];
    revealed.add(m[1]);
  }
  return names;
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  base = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, { timeout: 90_000 });

after(async () => {
  try { if (browser) await browser.close(); } catch { /* already gone */ }
  await stopServer();
  if (tmpdir) fs.rmSync(tmpdir, { recursive: true, force: true });
});

test('1. a full battle: ask, watch both answers, vote, see the names', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage('battle');
  await page.goto(`${base}/`);
  await region(page, 'A').waitFor();
  await region(page, 'B').waitFor();
  for (const name of ['A is better', 'B is better', 'Tie', 'Both are bad']) {
    assert.equal(await voteButton(page, name).isDisabled(), true, `"${name}" is disabled before any answer`);
  }
  await sendAndWait(page, 'Write a haiku about rivers');
  await shot(page, '1-battle-answered', { fullPage: false });
  await voteButton(page, 'A is better').click();
  const names = await expectRevealed(page);
  assert.notEqual(names.A, '', 'model A has a name');
  await page.getByRole('button', { name: 'New battle' }).waitFor({ state: 'visible' });
  for (const name of ['A is better', 'B is better', 'Tie', 'Both are bad']) {
    assert.equal(await voteButton(page, name).isDisabled(), true, `"${name}" is disabled after the vote`);
  }
  await shot(page, '1-battle-voted', { fullPage: false });

  // The same page on a phone: the two answers are stacked.
  await page.setViewportSize({ width: 390, height: 844 });
  const a = await region(page, 'A').boundingBox();
  const b = await region(page, 'B').boundingBox();
  assert.ok(b.y >= a.y + a.height - 1, 'on a narrow screen Model B is below Model A');
  await shot(page, '1-battle-phone', { fullPage: false });
  await page.close();
});

test('2. a second turn before voting, then keyboard voting', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage('multi-turn');
  await page.goto(`${base}/`);
  const first = 'Name three rivers in Europe';
  const second = 'Which of them is the longest?';
  await sendAndWait(page, first);
  // Follow-up, sent with the keyboard shortcut.
  await sendAndWait(page, second, { allPrompts: [first, second], useShortcut: true });
  for (const side of ['A', 'B']) {
    const t = await region(page, side).innerText();
    assert.ok(t.includes(first) && t.includes(second), `region Model ${side} shows both turns`);
  }
  await shot(page, '2-two-turns');
  // Keyboard vote: focus out of the text box, then press 2 (B is better).
  await voteButton(page, 'Tie').focus();
  await page.keyboard.press('2');
  await expectRevealed(page);
  await shot(page, '2-two-turns-voted');
  // "n" starts a new battle.
  await page.keyboard.press('n');
  await until(async () => !(await page.getByRole('button', { name: 'New battle' }).isVisible()), 'the page to reset for a new battle');
  assert.equal(await page.getByLabel('Prompt').isEditable(), true, 'the prompt box is usable again');
  await page.close();
});

test('3. the leaderboard shows the voted models', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage('leaderboard');
  await page.goto(`${base}/leaderboard`);
  const table = page.getByRole('table').first();
  await table.waitFor();
  for (const name of ['Rank', 'Model', 'Score', '95% CI', 'Votes', 'Organization', 'License']) {
    await page.getByRole('columnheader', { name, exact: true }).waitFor();
  }
  // The contract's names must each match one header even when matched loosely (substring).
  for (const name of ['Rank', 'Model', 'Score', '95% CI', 'Votes']) {
    assert.equal(await page.getByRole('columnheader', { name }).count(), 1, `exactly one column header matches "${name}"`);
  }
  assert.ok((await page.locator('thead').first().innerText()).toUpperCase().includes('RANK (UB)'), 'a "Rank (UB)" column is shown');
  assert.ok(revealed.size >= 2, 'earlier scenarios revealed model names');
  for (const name of revealed) {
    await table.getByText(name, { exact: true }).first().waitFor();
  }
  await until(async () => (await page.locator('svg circle').count()) >= revealed.size, 'the confidence-interval plot to be drawn');
  await until(async () => (await page.locator('svg rect').count()) > 0, 'the win-rate heat map to be drawn');
  await shot(page, '3-leaderboard');

  // Elo view.
  await page.getByRole('radio', { name: 'Elo' }).check();
  await until(async () => (await page.getByText(/Elo/).count()) > 0 && (await table.getByText([...revealed][0], { exact: true }).count()) > 0, 'the Elo table');
  await shot(page, '3-leaderboard-elo');
  await page.close();
});

test('4. the admin page: sign in, add a model, disable it, retire it', { timeout: TEST_TIMEOUT }, async () => {
  const page = await newPage('admin');
  await page.goto(`${base}/admin`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Models', exact: true }).waitFor();
  await page.getByRole('button', { name: /^Disable / }).first().waitFor();
  await shot(page, '4-admin-signed-in');

  const name = 'browser-test-model';
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Base URL', { exact: true }).fill('demo://local');
  await page.getByLabel('Upstream model', { exact: true }).fill('demo-alpha');
  await page.getByLabel('Organization', { exact: true }).fill('Browser Tests Inc.');
  await page.getByLabel('License', { exact: true }).fill('MIT');
  await page.getByLabel('Weight', { exact: true }).fill('0.5');
  await page.getByRole('button', { name: 'Add model' }).click();

  const disable = page.getByRole('button', { name: `Disable ${name}`, exact: true });
  await disable.waitFor();
  await disable.click();
  await page.getByRole('button', { name: `Enable ${name}`, exact: true }).waitFor();
  const row = page.getByRole('row').filter({ hasText: name });
  await until(async () => /Disabled/.test(await row.innerText()), 'the row to say Disabled');
  const listed = (await adminApi('GET', '/api/v1/admin/models')).models.find((m) => m.name === name);
  assert.ok(listed, 'the model was registered');
  assert.equal(listed.enabled, false, 'the model is disabled on the server');
  assert.equal(listed.organization, 'Browser Tests Inc.');
  await shot(page, '4-admin-disabled');

  // Retire, with the page's own confirmation step.
  await page.getByRole('button', { name: `Retire ${name}`, exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await shot(page, '4-admin-retire-confirm', { fullPage: false });
  await dialog.getByRole('button', { name: 'Yes, retire' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: `Enable ${name}`, exact: true }).waitFor({ state: 'detached' });
  await page.close();
});

test('5. model output is shown as text, never run as HTML', { timeout: TEST_TIMEOUT }, async () => {
  // Two echo models, and nothing else enabled, so both answers repeat the prompt.
  for (const name of ['echo-1', 'echo-2']) {
    await adminApi('POST', '/api/v1/admin/models', { name, base_url: 'demo://local', model: 'demo-echo', organization: 'Echo Lab' });
  }
  const { models } = await adminApi('GET', '/api/v1/admin/models');
  for (const m of models) {
    if (m.enabled && !m.retired && !m.name.startsWith('echo-')) {
      await adminApi('PATCH', `/api/v1/admin/models/${m.id}`, { enabled: false });
    }
  }

  const page = await newPage('xss');
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await page.goto(`${base}/`);
  const img = '<img src=x onerror=alert(1)>';
  const script = '<script>alert(1)</script>';
  const prompt = `Echo this: ${img} and ${script} and [a link](javascript:alert(1)) done`;
  await sendAndWait(page, prompt, { allPrompts: [] });
  for (const side of ['A', 'B']) {
    const r = region(page, side);
    const text = await r.innerText();
    // Once in the prompt bubble and once in the echoed answer.
    assert.ok(text.split(img).length - 1 >= 2, `region Model ${side} shows the <img> markup as text, in the answer too`);
    assert.ok(text.split(script).length - 1 >= 2, `region Model ${side} shows the <script> markup as text, in the answer too`);
    assert.equal(await r.locator('img, script, iframe, object, embed').count(), 0, `no img/script element inside region Model ${side}`);
    assert.equal(await r.locator('a[href^="javascript:" i]').count(), 0, 'no javascript: link');
  }
  await shot(page, '5-xss-as-text');
  await voteButton(page, 'Tie').click();
  const names = await expectRevealed(page);
  assert.ok(names.A.startsWith('echo-') && names.B.startsWith('echo-'), `both sides were echo models (got ${names.A}, ${names.B})`);
  assert.deepEqual(dialogs, [], 'no dialog was opened');
  assert.equal(await page.evaluate(() => document.querySelectorAll('script:not([src])').length), 0, 'no inline script element in the page');
  await page.close();
});

test('6. no console errors or page errors in any scenario', () => {
  assert.deepEqual(problems, [], `console/page errors:\n${problems.join('\n')}`);
});
