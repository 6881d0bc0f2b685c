// @ts-check
// The keysentry console. Every value shown comes from alerts, which attackers shape (a
// process may be named "<img onerror=...>"), so nodes are built with textContent and
// attributes set one by one — no innerHTML anywhere, and the CSP forbids inline script.
'use strict';

const API = '/console/api';
const SVG_NS = 'http://www.w3.org/2000/svg';
const PALETTE_SIZE = 8;

/** @type {{ newestId: number, selectedId: number | null, ruleColors: Map<string, number> }} */
const state = { newestId: 0, selectedId: null, ruleColors: new Map() };

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

/** @param {string} tag @param {Record<string, string | number>} attrs */
function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** @param {string} id */
function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`missing #${id}`);
  return node;
}

/** @param {unknown} doc @param {string} dotted */
function field(doc, dotted) {
  if (doc === null || typeof doc !== 'object') return undefined;
  const flat = /** @type {Record<string, unknown>} */ (doc);
  if (dotted in flat) return flat[dotted];
  /** @type {unknown} */
  let cur = doc;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = /** @type {Record<string, unknown>} */ (cur)[part];
  }
  return cur;
}

/** @param {unknown} v */
function text(v) {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function filterParams() {
  const params = new URLSearchParams();
  for (const key of ['host', 'rule', 'severity']) {
    const value = /** @type {HTMLSelectElement} */ (byId(`filter-${key}`)).value;
    if (value !== '') params.set(key, value);
  }
  for (const key of ['since', 'until']) {
    const value = /** @type {HTMLInputElement} */ (byId(`filter-${key}`)).value;
    if (value !== '') params.set(key, new Date(value).toISOString());
  }
  return params;
}

/** @param {string} path @param {URLSearchParams} [params] */
async function getJson(path, params) {
  const res = await fetch(`${API}${path}${params && [...params].length > 0 ? `?${params}` : ''}`, { credentials: 'same-origin' });
  if (res.status === 401) {
    window.location.assign('/console/login');
    throw new Error('session expired');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/** @param {string} rule */
function colorOf(rule) {
  let index = state.ruleColors.get(rule);
  if (index === undefined) {
    index = state.ruleColors.size % PALETTE_SIZE;
    state.ruleColors.set(rule, index);
  }
  return index;
}

/** @param {string | null} iso */
function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** @param {any} alert @param {boolean} fresh */
function alertRow(alert, fresh) {
  const severity = text(alert.severity);
  const row = el(
    'tr',
    { 'data-id': String(alert.id), class: fresh ? 'new' : '' },
    el('td', {}, shortTime(alert.time)),
    el('td', {}, text(alert.host)),
    el('td', {}, text(alert.ruleName ?? alert.ruleId)),
    el('td', { class: `sev-${severity.toLowerCase()}` }, severity),
    el('td', { class: 'mono' }, text(alert.process)),
  );
  row.addEventListener('click', () => void showDetail(alert.id));
  return row;
}

/** @param {boolean} onlyNew */
async function loadAlerts(onlyNew) {
  const params = filterParams();
  if (onlyNew && state.newestId > 0) params.set('after', String(state.newestId));
  const { alerts } = await getJson('/alerts', params);
  const body = byId('alert-rows');
  if (!onlyNew) body.replaceChildren();
  // The API answers newest first; new ones go on top, in that order.
  const rows = alerts.map((/** @type {any} */ a) => alertRow(a, onlyNew));
  body.prepend(...rows);
  if (alerts.length > 0) state.newestId = Math.max(state.newestId, alerts[0].id);
  byId('alert-count').textContent = `(${body.children.length} shown)`;
}

async function loadFacets() {
  const facets = await getJson('/facets');
  for (const [key, values] of [['host', facets.hosts], ['rule', facets.rules], ['severity', facets.severities]]) {
    const select = /** @type {HTMLSelectElement} */ (byId(`filter-${key}`));
    const current = select.value;
    select.replaceChildren(el('option', { value: '' }, 'all'), ...values.map((/** @type {string} */ v) => el('option', { value: v }, v)));
    select.value = values.includes(current) ? current : '';
  }
}

async function loadTimeline() {
  const { hours, series } = await getJson('/timeline', filterParams());
  const chart = byId('chart');
  const width = 960;
  const height = 180;
  const bottom = 20;
  const slot = width / Math.max(1, hours.length);
  const totals = hours.map((/** @type {string} */ _h, /** @type {number} */ i) => series.reduce((/** @type {number} */ s, /** @type {any} */ x) => s + x.counts[i], 0));
  const max = Math.max(1, ...totals);
  const nodes = [];
  hours.forEach((/** @type {string} */ hour, /** @type {number} */ i) => {
    let y = height - bottom;
    for (const s of series) {
      const n = s.counts[i];
      if (n === 0) continue;
      const h = ((height - bottom - 10) * n) / max;
      y -= h;
      const bar = svg('rect', { x: i * slot + 1, y, width: Math.max(1, slot - 2), height: h, class: `bar-${colorOf(s.rule)}` });
      const title = svg('title', {});
      title.textContent = `${hour}:00 UTC · ${s.rule}: ${n}`;
      bar.append(title);
      nodes.push(bar);
    }
    if (i % 3 === 0) {
      const label = svg('text', { x: i * slot + 2, y: height - 6, class: 'axis' });
      label.textContent = `${hour.slice(11, 13)}h`;
      nodes.push(label);
    }
  });
  chart.replaceChildren(...nodes);
  chart.setAttribute('data-total', String(totals.reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0)));
  byId('legend').replaceChildren(
    ...series.map((/** @type {any} */ s) => el('li', {}, el('span', { class: `swatch swatch-${colorOf(s.rule)}` }), `${s.rule} (${s.counts.reduce((/** @type {number} */ a, /** @type {number} */ b) => a + b, 0)})`)),
  );
}

/** @param {unknown} v */
function health(v) {
  return v === undefined || v === null ? '' : String(v);
}

async function loadAgents() {
  const { agents } = await getJson('/agents');
  byId('agent-rows').replaceChildren(
    ...agents.map((/** @type {any} */ a) => {
      const h = a.health ?? {};
      return el(
        'tr',
        { class: a.silent ? 'silent' : '' },
        el('td', {}, text(a.name ?? a.agentId)),
        el('td', {}, text(a.version)),
        el('td', {}, shortTime(a.healthAt ?? a.lastSeen)),
        el('td', {}, health(h.events_per_second)),
        el('td', {}, health(h.events_lost)),
        el('td', {}, health(h.spool_depth)),
        el('td', {}, shortTime(typeof h.last_delivery === 'string' ? h.last_delivery : null)),
      );
    }),
  );
}

/** @param {string} role @param {unknown} proc @param {number} depth */
function treeNode(role, proc, depth) {
  const item = el(
    'li',
    {},
    el('div', { class: 'role' }, role),
    el('div', { class: 'mono' }, text(field(proc, 'executable') ?? field(proc, 'name')) || '(unknown)'),
    field(proc, 'pid') !== undefined ? el('div', {}, `pid ${text(field(proc, 'pid'))}`) : null,
    field(proc, 'command_line') !== undefined ? el('div', { class: 'mono' }, text(field(proc, 'command_line'))) : null,
  );
  item.style.setProperty('--depth', String(depth));
  return item;
}

/** @param {Array<[string, unknown]>} pairs */
function definitionList(pairs) {
  const dl = el('dl');
  for (const [k, v] of pairs) if (v !== undefined && v !== null && v !== '') dl.append(el('dt', {}, k), el('dd', { class: 'mono' }, text(v)));
  return dl;
}

/**
 * ECS keeps threat.* flat, one array per attribute (threat.technique.id[i] goes with
 * threat.technique.name[i]); "T1555 Credentials from Password Stores" lines from that.
 * @param {unknown} doc
 */
function mitreLines(doc) {
  const lines = [];
  for (const [label, base] of [['tactic', 'threat.tactic'], ['technique', 'threat.technique'], ['subtechnique', 'threat.technique.subtechnique']]) {
    const ids = [field(doc, `${base}.id`)].flat().filter((v) => v !== undefined);
    const names = [field(doc, `${base}.name`)].flat();
    ids.forEach((id, i) => lines.push(`${label}: ${text(id)} ${text(names[i])}`));
  }
  return lines;
}

/** @param {number} id */
async function showDetail(id) {
  state.selectedId = id;
  for (const row of byId('alert-rows').children) row.classList.toggle('selected', row.getAttribute('data-id') === String(id));
  const alert = await getJson(`/alerts/${id}`);
  const doc = alert.doc;
  const proc = field(doc, 'process');
  const args = field(doc, 'process.args');
  const tree = el('ul', { class: 'tree' });
  const effective = field(doc, 'process.Ext.effective_parent');
  let depth = 0;
  if (effective !== undefined) tree.append(treeNode('effective parent', effective, depth++));
  tree.append(treeNode('parent', field(doc, 'process.parent') ?? {}, depth++), treeNode('process', proc ?? {}, depth));
  const body = byId('detail-body');
  body.replaceChildren(
    el('h3', {}, text(field(doc, 'rule.name'))),
    definitionList([
      ['time', field(doc, '@timestamp')],
      ['host', field(doc, 'host.hostname') ?? field(doc, 'host.name')],
      ['severity', field(doc, 'rule.severity')],
      ['risk score', field(doc, 'rule.risk_score')],
      ['user', field(doc, 'user.name') ?? field(doc, 'user.id')],
      ['agent', alert.agentId],
    ]),
    el('h4', {}, 'Process tree'),
    tree,
    el('h4', {}, 'Arguments'),
    el('ol', { class: 'args mono' }, ...(Array.isArray(args) ? args : []).map((a) => el('li', {}, text(a)))),
    el('h4', {}, 'Code signature'),
    definitionList([
      ['exists', field(doc, 'process.code_signature.exists')],
      ['trusted', field(doc, 'process.code_signature.trusted')],
      ['signing id', field(doc, 'process.code_signature.signing_id')],
      ['team id', field(doc, 'process.code_signature.team_id')],
    ]),
    el('h4', {}, 'MITRE ATT&CK'),
    el('ul', { class: 'mitre' }, ...mitreLines(doc).map((line) => el('li', {}, line))),
  );
  byId('detail').hidden = false;
}

function refreshAll() {
  state.newestId = 0;
  void loadAlerts(false);
  void loadTimeline();
}

function connectLive() {
  const liveState = byId('live-state');
  const source = new EventSource(`${API}/live`);
  source.addEventListener('hello', () => {
    liveState.textContent = 'live';
    liveState.classList.add('on');
  });
  source.addEventListener('alerts', () => {
    void loadAlerts(true);
    void loadTimeline();
    void loadFacets();
  });
  source.addEventListener('error', () => {
    liveState.textContent = 'reconnecting…';
    liveState.classList.remove('on');
  });
}

document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['filter-host', 'filter-rule', 'filter-severity', 'filter-since', 'filter-until']) byId(id).addEventListener('change', refreshAll);
  byId('filter-clear').addEventListener('click', () => {
    for (const id of ['filter-host', 'filter-rule', 'filter-severity', 'filter-since', 'filter-until']) /** @type {HTMLInputElement} */ (byId(id)).value = '';
    refreshAll();
  });
  byId('detail-close').addEventListener('click', () => {
    byId('detail').hidden = true;
    state.selectedId = null;
  });
  void loadFacets().then(refreshAll);
  void loadAgents();
  setInterval(() => void loadAgents(), 10_000);
  connectLive();
});
