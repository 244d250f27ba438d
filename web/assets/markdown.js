// A small, safe Markdown renderer. It never parses HTML: every piece of text
// becomes a text node, and the only elements created are the ones below.
// Supported: paragraphs (single newlines become line breaks), ATX headings,
// emphasis (* _ ** __ ~~), inline code, fenced code blocks (``` or ~~~, with a
// copy button), block quotes, nested ordered/unordered lists, GFM tables,
// horizontal rules, links and bare URLs (http/https only; others stay text).

import { copyText } from './common.js';

const FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>[ ]?/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])([ \t]+|$)(.*)$/;
const TABLE_DELIM = /^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$/;
const MAX_DEPTH = 12;

/** Renders `src` into a DocumentFragment. */
export function renderMarkdown(src) {
  const frag = document.createDocumentFragment();
  const lines = String(src ?? '').replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n');
  for (const node of parseBlocks(lines, 0)) frag.appendChild(node);
  return frag;
}

function indentOf(line) { return line.length - line.trimStart().length; }
function isBlank(line) { return line.trim() === ''; }

function startsBlock(lines, i) {
  const line = lines[i];
  if (FENCE.test(line) || HR.test(line) || QUOTE.test(line)) return true;
  const hm = HEADING.exec(line);
  if (hm && (hm[2] !== undefined || /^ {0,3}#{1,6}\s*$/.test(line))) return true;
  const lm = LIST_ITEM.exec(line);
  if (lm && lm[4].trim() !== '' && (/^[-*+]$/.test(lm[2]) || /^1[.)]$/.test(lm[2]))) return true;
  if (isTableStart(lines, i)) return true;
  return false;
}

function isTableStart(lines, i) {
  return i + 1 < lines.length && lines[i].includes('|') && TABLE_DELIM.test(lines[i + 1]) && lines[i + 1].includes('-');
}

function parseBlocks(lines, depth) {
  const out = [];
  if (depth > MAX_DEPTH) {
    out.push(el('p', null, lines.join('\n')));
    return out;
  }
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) { i++; continue; }

    // fenced code
    let m = FENCE.exec(line);
    if (m) {
      const fence = m[1];
      const lang = m[2] || '';
      const indent = indentOf(line);
      const body = [];
      i++;
      let closed = false;
      while (i < lines.length) {
        const l = lines[i];
        const t = l.trim();
        if (t.length >= fence.length && t[0] === fence[0] && /^(`+|~+)$/.test(t) && indentOf(l) < 4) { closed = true; i++; break; }
        body.push(indent ? l.replace(new RegExp(`^ {0,${indent}}`), '') : l);
        i++;
      }
      out.push(codeBlock(body.join('\n'), lang, closed));
      continue;
    }

    // heading
    m = HEADING.exec(line);
    if (m && (m[2] !== undefined || /^ {0,3}#{1,6}\s*$/.test(line))) {
      const level = m[1].length;
      out.push(el(`h${level}`, null, ...parseInline(m[2] || '', 0)));
      i++;
      continue;
    }

    // horizontal rule
    if (HR.test(line)) { out.push(document.createElement('hr')); i++; continue; }

    // block quote
    if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && !isBlank(lines[i])) {
        if (QUOTE.test(lines[i])) inner.push(lines[i].replace(QUOTE, ''));
        else if (inner.length && !startsBlock(lines, i)) inner.push(lines[i]); // lazy continuation
        else break;
        i++;
      }
      const bq = document.createElement('blockquote');
      for (const n of parseBlocks(inner, depth + 1)) bq.appendChild(n);
      out.push(bq);
      continue;
    }

    // list
    m = LIST_ITEM.exec(line);
    if (m && (m[4].trim() !== '' || (i + 1 < lines.length && indentOf(lines[i + 1]) > m[1].length))) {
      const res = parseList(lines, i, depth);
      out.push(res.node);
      i = res.next;
      continue;
    }

    // table
    if (isTableStart(lines, i)) {
      const res = parseTable(lines, i);
      out.push(res.node);
      i = res.next;
      continue;
    }

    // paragraph
    const para = [line.trim()];
    i++;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines, i)) {
      para.push(lines[i].trim());
      i++;
    }
    out.push(el('p', null, ...parseInline(para.join('\n'), 0)));
  }
  return out;
}

function parseList(lines, start, depth) {
  const first = LIST_ITEM.exec(lines[start]);
  const baseIndent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = document.createElement(ordered ? 'ol' : 'ul');
  if (ordered) {
    const n = parseInt(first[2], 10);
    if (n !== 1) list.setAttribute('start', String(n));
  }
  const items = [];
  let loose = false;
  let i = start;
  let current = null;
  let sawBlank = false;
  while (i < lines.length) {
    const line = lines[i];
    const m = LIST_ITEM.exec(line);
    const sameKind = m && m[1].length <= baseIndent + 1 && m[1].length >= Math.max(0, baseIndent - 1) && /\d/.test(m[2]) === ordered;
    if (sameKind) {
      if (sawBlank && current) loose = true;
      current = { lines: [m[4]], contentIndent: m[1].length + m[2].length + Math.max(1, Math.min(m[3].length, 4)) };
      items.push(current);
      sawBlank = false;
      i++;
      continue;
    }
    if (isBlank(line)) {
      // Continue the list only if the next non-blank line belongs to it.
      let j = i + 1;
      while (j < lines.length && isBlank(lines[j])) j++;
      if (j >= lines.length) break;
      const nm = LIST_ITEM.exec(lines[j]);
      const nextIsItem = nm && nm[1].length <= baseIndent + 1 && nm[1].length >= Math.max(0, baseIndent - 1) && /\d/.test(nm[2]) === ordered;
      if (!nextIsItem && indentOf(lines[j]) <= baseIndent) break;
      current.lines.push('');
      sawBlank = true;
      i++;
      continue;
    }
    const ind = indentOf(line);
    if (ind > baseIndent) {
      current.lines.push(line.slice(Math.min(ind, current.contentIndent)));
      if (sawBlank && !LIST_ITEM.test(line)) loose = true;
      sawBlank = false;
      i++;
      continue;
    }
    // Lazy paragraph continuation.
    if (!sawBlank && !startsBlock(lines, i)) {
      current.lines.push(line.trim());
      i++;
      continue;
    }
    break;
  }
  for (const item of items) {
    const li = document.createElement('li');
    const blocks = parseBlocks(item.lines, depth + 1);
    for (const b of blocks) {
      if (!loose && b.tagName === 'P') {
        while (b.firstChild) li.appendChild(b.firstChild);
      } else {
        li.appendChild(b);
      }
    }
    list.appendChild(li);
  }
  return { node: list, next: i };
}

function splitRow(line) {
  let t = line.trim();
  if (t.startsWith('|')) t = t.slice(1);
  if (t.endsWith('|') && !t.endsWith('\\|')) t = t.slice(0, -1);
  const cells = [];
  let cur = '';
  let inCode = false;
  for (let k = 0; k < t.length; k++) {
    const c = t[k];
    if (c === '\\' && t[k + 1] === '|') { cur += '|'; k++; continue; }
    if (c === '`') inCode = !inCode;
    if (c === '|' && !inCode) { cells.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  cells.push(cur.trim());
  return cells;
}

function parseTable(lines, start) {
  const header = splitRow(lines[start]);
  const aligns = splitRow(lines[start + 1]).map((c) => {
    const l = c.startsWith(':');
    const r = c.endsWith(':');
    return l && r ? 'center' : r ? 'num' : '';
  });
  const table = document.createElement('table');
  const thead = document.createElement('thead');
  const hr = document.createElement('tr');
  header.forEach((c, k) => {
    const th = el('th', null, ...parseInline(c, 0));
    if (aligns[k]) th.className = aligns[k];
    hr.appendChild(th);
  });
  thead.appendChild(hr);
  table.appendChild(thead);
  const tbody = document.createElement('tbody');
  let i = start + 2;
  while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|')) {
    const cells = splitRow(lines[i]);
    const tr = document.createElement('tr');
    for (let k = 0; k < header.length; k++) {
      const td = el('td', null, ...parseInline(cells[k] ?? '', 0));
      if (aligns[k]) td.className = aligns[k];
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
    i++;
  }
  table.appendChild(tbody);
  return { node: table, next: i };
}

function codeBlock(code, lang, closed) {
  const wrap = document.createElement('div');
  wrap.className = 'code-block';
  const head = document.createElement('div');
  head.className = 'code-head';
  const label = document.createElement('span');
  label.textContent = lang || 'code';
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'ghost small copy-code';
  btn.textContent = 'Copy';
  btn.setAttribute('aria-label', 'Copy code');
  btn.addEventListener('click', async () => {
    const ok = await copyText(code);
    btn.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { btn.textContent = 'Copy'; }, 1600);
  });
  head.append(label, btn);
  const pre = document.createElement('pre');
  const c = document.createElement('code');
  if (lang) c.dataset.lang = lang;
  c.textContent = code;
  pre.appendChild(c);
  wrap.append(head, pre);
  if (!closed) wrap.dataset.open = 'true';
  return wrap;
}

function el(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

/** Only absolute http(s) URLs become links. */
export function safeHref(url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch { /* not a URL */ }
  return null;
}

function link(href, children) {
  const a = document.createElement('a');
  a.href = href;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  for (const c of children) a.appendChild(c);
  return a;
}

const PUNCT = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;

/** Inline Markdown → array of nodes. */
function parseInline(text, depth) {
  const out = [];
  let buf = '';
  const flush = () => { if (buf) { out.push(document.createTextNode(buf)); buf = ''; } };
  if (depth > MAX_DEPTH) return [document.createTextNode(text)];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];

    if (c === '\\' && i + 1 < n && PUNCT.test(text[i + 1])) { buf += text[i + 1]; i += 2; continue; }

    if (c === '\n') { flush(); out.push(document.createElement('br')); i++; continue; }

    if (c === '`') {
      let run = 1;
      while (text[i + run] === '`') run++;
      const fence = '`'.repeat(run);
      let j = i + run;
      let found = -1;
      while (j < n) {
        const k = text.indexOf(fence, j);
        if (k < 0) break;
        if (text[k + run] !== '`' && text[k - 1] !== '`') { found = k; break; }
        j = k + 1;
        while (text[j] === '`') j++;
      }
      if (found >= 0) {
        let inner = text.slice(i + run, found).replace(/\n/g, ' ');
        if (inner.length > 2 && inner.startsWith(' ') && inner.endsWith(' ') && inner.trim()) inner = inner.slice(1, -1);
        flush();
        out.push(el('code', null, inner));
        i = found + run;
        continue;
      }
      buf += fence;
      i += run;
      continue;
    }

    if ((c === '*' || c === '_') && text[i + 1] === c && text[i + 2] === c && text[i + 3] !== c && !/\s/.test(text[i + 3] || ' ')) {
      const close = text.indexOf(c + c + c, i + 3);
      if (close > i + 3 && !/\s/.test(text[close - 1]) && !text.slice(i + 3, close).includes('\n\n')) {
        flush();
        out.push(el('em', null, el('strong', null, ...parseInline(text.slice(i + 3, close), depth + 1))));
        i = close + 3;
        continue;
      }
    }

    if ((c === '*' || c === '_') && text[i + 1] === c) {
      const close = findClose(text, i + 2, c + c);
      const leftOk = c === '*' || i === 0 || !WORD.test(text[i - 1]);
      if (close > i + 2 && leftOk && !/\s/.test(text[i + 2])) {
        flush();
        out.push(el('strong', null, ...parseInline(text.slice(i + 2, close), depth + 1)));
        i = close + 2;
        continue;
      }
      buf += c + c;
      i += 2;
      continue;
    }

    if (c === '*' || c === '_') {
      const leftOk = c === '*' || i === 0 || !WORD.test(text[i - 1]);
      if (leftOk && i + 1 < n && !/\s/.test(text[i + 1])) {
        const close = findClose(text, i + 1, c);
        if (close > i + 1) {
          flush();
          out.push(el('em', null, ...parseInline(text.slice(i + 1, close), depth + 1)));
          i = close + 1;
          continue;
        }
      }
      buf += c;
      i++;
      continue;
    }

    if (c === '~' && text[i + 1] === '~') {
      const close = findClose(text, i + 2, '~~');
      if (close > i + 2 && !/\s/.test(text[i + 2])) {
        flush();
        out.push(el('del', null, ...parseInline(text.slice(i + 2, close), depth + 1)));
        i = close + 2;
        continue;
      }
      buf += '~~';
      i += 2;
      continue;
    }

    if (c === '[' || (c === '!' && text[i + 1] === '[')) {
      const isImage = c === '!';
      const open = isImage ? i + 1 : i;
      const res = parseLink(text, open);
      if (res) {
        flush();
        const href = safeHref(res.url);
        const label = isImage ? [document.createTextNode(res.text || res.url)] : parseInline(res.text, depth + 1);
        if (href) out.push(link(href, label.length ? label : [document.createTextNode(res.url)]));
        else out.push(...label);
        i = res.end;
        continue;
      }
      buf += c;
      i++;
      continue;
    }

    if (c === '<') {
      const m = /^<(https?:\/\/[^\s<>]+)>/i.exec(text.slice(i, i + 2048));
      if (m && safeHref(m[1])) {
        flush();
        out.push(link(safeHref(m[1]), [document.createTextNode(m[1])]));
        i += m[0].length;
        continue;
      }
    }

    if ((c === 'h' || c === 'H') && (i === 0 || !/[\p{L}\p{N}/]/u.test(text[i - 1]))) {
      const m = /^https?:\/\/[^\s<>"'`]+/i.exec(text.slice(i, i + 2048));
      if (m) {
        let url = m[0];
        // Trailing punctuation is usually sentence punctuation, not part of the URL.
        while (/[.,;:!?*_~'"]$/.test(url)) url = url.slice(0, -1);
        while (url.endsWith(')') && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) url = url.slice(0, -1);
        const href = safeHref(url);
        if (href && url.length > 8) {
          flush();
          out.push(link(href, [document.createTextNode(url)]));
          i += url.length;
          continue;
        }
      }
    }

    buf += c;
    i++;
  }
  flush();
  return out;
}

/** Finds the closing delimiter `delim` at or after `from`, not preceded by whitespace. */
function findClose(text, from, delim) {
  let j = from;
  while (j < text.length) {
    const k = text.indexOf(delim, j);
    if (k < 0) return -1;
    if (text[k - 1] === '\\') { j = k + 1; continue; }
    if (delim.length === 1) {
      // Treat a run of the delimiter character as one unit.
      let end = k;
      while (text[end] === delim) end++;
      const run = end - k;
      if (run >= 2) {
        if (run === 3 && !/\s/.test(text[k - 1] || ' ')) return k; // ***: closes * (and ** outside)
        // A nested strong opener (e.g. *a **b** c*): skip to after its closer.
        const inner = /\s/.test(text[end] || ' ') ? -1 : findClose(text, end, delim + delim);
        j = inner > 0 ? inner + 2 : end;
        continue;
      }
    }
    if (/\s/.test(text[k - 1] || ' ')) { j = k + 1; continue; }
    if (delim === '_' && k + 1 < text.length && WORD.test(text[k + 1])) { j = k + 1; continue; }
    if (text.slice(from, k).includes('\n\n')) return -1;
    return k;
  }
  return -1;
}

/** Parses [text](url "title") starting at the '[' at `i`. */
function parseLink(text, i) {
  let depth = 0;
  let j = i;
  for (; j < text.length; j++) {
    const ch = text[j];
    if (ch === '\\') { j++; continue; }
    if (ch === '[') depth++;
    else if (ch === ']') { depth--; if (depth === 0) break; }
    else if (ch === '\n' && text[j + 1] === '\n') return null;
  }
  if (depth !== 0 || text[j + 1] !== '(') return null;
  const label = text.slice(i + 1, j);
  let k = j + 2;
  let paren = 1;
  let dest = '';
  for (; k < text.length; k++) {
    const ch = text[k];
    if (ch === '(') paren++;
    else if (ch === ')') { paren--; if (paren === 0) break; }
    else if (ch === '\n') return null;
    dest += ch;
  }
  if (paren !== 0) return null;
  let url = dest.trim();
  const titled = /^(\S+)\s+(["'(]).*[)"']$/.exec(url);
  if (titled) url = titled[1];
  if (url.startsWith('<') && url.endsWith('>')) url = url.slice(1, -1);
  return { text: label, url, end: k + 1 };
}
