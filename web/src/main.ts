// The web UI: connects to the node that served this page, mirrors its chain with LiveLedger
// (verified here, in the browser), and renders the feed, the note form, peers and history.
import {
  GsioClient, LiveLedger, PROTOCOL_VERSION, type ConnectionStatus, type Entry, type KnownNode, type LedgerChange,
  type Verification,
} from '@gsio/client';
import { datetimeAttribute, makeNote, matches, nicknameOf, shortId, textOf, unixMs, type HistoryFilter } from './notes.js';

const NICKNAME_KEY = 'gsio.nickname';
const FEED_SIZE = 50;
const HISTORY_SIZE = 200;
const PEER_REFRESH_MS = 3000;
// A peer counts as online if the node heard from it this recently (announces come every 2 s).
const ONLINE_WITHIN_MS = 10_000;

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
}

// Builds an element with text children only: entry data comes from the network, never as HTML.
function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

const ui = {
  nodeId: $('node-id'),
  connection: $('connection'),
  badge: $('verify-badge'),
  notice: $<HTMLParagraphElement>('notice'),
  form: $<HTMLFormElement>('note-form'),
  nickname: $<HTMLInputElement>('nickname'),
  text: $<HTMLTextAreaElement>('note-text'),
  submit: $<HTMLButtonElement>('note-submit'),
  noteStatus: $('note-status'),
  feed: $<HTMLOListElement>('feed'),
  feedCount: $('feed-count'),
  peers: $<HTMLUListElement>('peers'),
  filterForm: $<HTMLFormElement>('history-filter'),
  filterAuthor: $<HTMLSelectElement>('filter-author'),
  filterNickname: $<HTMLInputElement>('filter-nickname'),
  filterText: $<HTMLInputElement>('filter-text'),
  filterFrom: $<HTMLInputElement>('filter-from'),
  filterTo: $<HTMLInputElement>('filter-to'),
  historyCount: $('history-count'),
  history: $<HTMLOListElement>('history-results'),
  dialog: $<HTMLDialogElement>('entry-detail'),
  detailTitle: $('detail-title'),
  detailFields: $('detail-fields'),
  detailData: $('detail-data'),
  detailPrevious: $<HTMLButtonElement>('detail-previous'),
};

let selfId = '';
let live: LiveLedger;

// --- connection and verification badges ----------------------------------------------------

function showConnection(s: ConnectionStatus): void {
  const text = {
    connecting: 'connecting…',
    connected: `connected · ${s.transport ?? '?'}`,
    reconnecting: s.attempt > 0 ? `reconnecting (attempt ${s.attempt})…` : 'reconnecting…',
    disconnected: 'disconnected',
  }[s.state];
  ui.connection.dataset.state = s.state;
  ui.connection.dataset.transport = s.transport ?? '';
  ui.connection.textContent = text;
  ui.connection.title = s.lastError ? `last error: ${s.lastError}` : '';
  ui.submit.title = s.state === 'connected' ? '' : 'the note is sent when the node is back';
  // What the peers list shows is only as fresh as the connection.
  ui.peers.dataset.stale = String(s.state !== 'connected');
  ui.peers.title = s.state === 'connected' ? '' : 'as last seen before the connection to the node was lost';
}

function showVerification(v: Verification): void {
  ui.badge.dataset.state = v.state;
  if (v.state === 'verified') {
    ui.badge.textContent = `✔ chain verified in your browser · ${plural(v.verified, 'entry', 'entries')}`;
    ui.badge.title = 'every hash, link and Ed25519 signature was checked on this device';
  } else if (v.state === 'verifying') {
    ui.badge.textContent = `verifying in your browser… ${v.verified}/${live.entries.length}`;
    ui.badge.title = '';
  } else {
    const p = v.problem;
    ui.badge.textContent = `✖ chain verification failed at entry #${p?.index ?? '?'}: ${p?.reason ?? 'unknown'}`;
    ui.badge.title = p ? `${p.id ?? ''}: ${p.message}` : '';
  }
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function notify(message: string): void {
  ui.notice.textContent = message;
  ui.notice.hidden = false;
}

// --- entries -------------------------------------------------------------------------------

function entryItem(entry: Entry, index: number, fresh = false): HTMLLIElement {
  const nick = nicknameOf(entry);
  const who = nick ?? 'anonymous';
  const author = entry.creator_node_id === selfId ? 'this node' : shortId(entry.creator_node_id);
  const time = new Date(unixMs(entry));
  const open = el('button', { type: 'button', class: 'link', 'aria-label': `Details of entry ${index} by ${who}` },
    `#${index}`);
  open.addEventListener('click', () => showDetail(entry.hash));
  const head = el('div', { class: 'entry-head' },
    open,
    el('span', { class: 'who' }, who),
    el('span', { class: 'mono', title: entry.creator_node_id }, author),
    // The title shows the exact timestamp (microseconds); datetime allows milliseconds at most.
    el('time', { datetime: datetimeAttribute(entry), title: entry.timestamp },
      Number.isNaN(time.getTime()) ? entry.timestamp : time.toLocaleString()));
  const li = el('li', { 'data-id': entry.id, 'data-hash': entry.hash, ...(fresh ? { class: 'fresh' } : {}) },
    head, el('p', { class: 'entry-text' }, textOf(entry))) as HTMLLIElement;
  return li;
}

function renderFeed(freshHashes: Set<string> = new Set()): void {
  const entries = live.entries;
  const items: HTMLLIElement[] = [];
  for (let i = entries.length - 1; i >= Math.max(0, entries.length - FEED_SIZE); i--) {
    const e = entries[i] as Entry;
    items.push(entryItem(e, i, freshHashes.has(e.hash)));
  }
  ui.feed.replaceChildren(...items);
  ui.feedCount.textContent = String(entries.length);
}

function currentFilter(): HistoryFilter {
  const time = (input: HTMLInputElement) => (input.value ? new Date(input.value).getTime() : NaN);
  return {
    author: ui.filterAuthor.value,
    nickname: ui.filterNickname.value.trim(),
    text: ui.filterText.value.trim(),
    from: time(ui.filterFrom),
    // datetime-local has second precision: include the whole last second.
    to: ui.filterTo.value ? time(ui.filterTo) + 999 : NaN,
  };
}

// Authors already in the filter's list: new entries add theirs without a walk over the chain.
const listedAuthors = new Set<string>();

function renderAuthors(entries: readonly Entry[]): void {
  for (const e of entries) {
    const a = e.creator_node_id;
    if (listedAuthors.has(a)) continue;
    listedAuthors.add(a);
    ui.filterAuthor.append(el('option', { value: a }, a === selfId ? `this node (${shortId(a)})` : shortId(a, 16)));
  }
}

function renderHistory(): void {
  const f = currentFilter();
  const entries = live.entries;
  const hits: HTMLLIElement[] = [];
  let count = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as Entry;
    if (!matches(e, f)) continue;
    count++;
    if (hits.length < HISTORY_SIZE) hits.push(entryItem(e, i));
  }
  ui.history.replaceChildren(...hits);
  ui.historyCount.dataset.count = String(count);
  ui.historyCount.textContent = count > hits.length
    ? `Matching: ${count} of ${entries.length}; showing the newest ${hits.length}`
    : `Matching: ${count} of ${entries.length}`;
}

// Changes arrive once per entry (up to a thousand a second per node), and the history is a walk
// over the whole chain: a change is drawn at once, and the changes that follow within
// RENDER_INTERVAL_MS are drawn together when it ends.
const RENDER_INTERVAL_MS = 100;
let pendingFresh = new Set<string>();
let renderTimer: ReturnType<typeof setTimeout> | null = null;
let renderWanted = false;

function renderChanges(): void {
  const fresh = pendingFresh;
  pendingFresh = new Set();
  renderFeed(fresh);
  renderHistory();
  renderTimer = setTimeout(() => {
    renderTimer = null;
    if (renderWanted) {
      renderWanted = false;
      renderChanges();
    }
  }, RENDER_INTERVAL_MS);
}

function onLedgerChange(change: LedgerChange): void {
  if (change.kind === 'append') {
    for (const e of change.entries) pendingFresh.add(e.hash);
    renderAuthors(change.entries);
  } else if (change.kind === 'reorg') {
    notify(`The chain switched branches at entry #${change.forkHeight}: ${change.removed.length} entries ` +
           `replaced by ${change.added.length}. Entries that left are re-added by their node.`);
    for (const e of change.added) pendingFresh.add(e.hash);
    renderAuthors(change.added);
    if (ui.dialog.open) ui.dialog.close(); // the entry shown may no longer be on the chain
  } else {
    renderAuthors(live.entries);
  }
  if (renderTimer) renderWanted = true;
  else renderChanges();
}

// --- entry detail ----------------------------------------------------------------------------

function showDetail(hash: string): void {
  const entries = live.entries;
  const index = entries.findIndex((e) => e.hash === hash);
  const entry = entries[index];
  if (!entry) return;
  const verified = index < live.verification.verified;
  const rows: [string, string][] = [
    ['index', String(index)],
    ['id', entry.id],
    ['time', entry.timestamp],
    ['author', entry.creator_node_id + (entry.creator_node_id === selfId ? ' (this node)' : '')],
    ['nickname', nicknameOf(entry) ?? '—'],
    ['hash', entry.hash],
    ['previous hash', entry.previous_hash],
    ...Object.entries(entry.signatures).map(([signer, sig]): [string, string] =>
      [signer === entry.creator_node_id ? 'signature' : `attestation ${shortId(signer)}`, sig]),
    ['verified here', verified ? 'yes: hash, link and signatures checked in this browser' : 'not (yet)'],
  ];
  ui.detailTitle.textContent = `Entry #${index}`;
  ui.detailFields.replaceChildren(...rows.flatMap(([k, v]) => [
    el('dt', {}, k), el('dd', { 'data-field': k }, v)]));
  ui.detailData.textContent = JSON.stringify(entry.data, null, 2);
  const previous = entries[index - 1];
  ui.detailPrevious.disabled = !previous;
  ui.detailPrevious.onclick = previous ? () => showDetail(previous.hash) : null;
  if (!ui.dialog.open) ui.dialog.showModal();
}

// --- peers -----------------------------------------------------------------------------------

// `peers` of the node's known_nodes answer (protocol 2; `nodes` holds only the ids).
function renderPeers(nodes: KnownNode[]): void {
  const self = nodes.find((n) => n.is_self);
  // last_seen is on the node's clock; comparing with the node's own `now` (its self record)
  // keeps a skewed browser clock out of it.
  const now = self?.last_seen ?? Date.now();
  const sorted = [...nodes].sort((a, b) => Number(b.is_self) - Number(a.is_self) || a.node_id.localeCompare(b.node_id));
  ui.peers.replaceChildren(...sorted.map((n) => {
    const online = n.is_self || (!n.link.startsWith('via') && now - n.last_seen < ONLINE_WITHIN_MS);
    const state = online ? 'online' : 'offline';
    return el('li', { 'data-node': n.node_id, 'data-online': String(online) },
      el('span', { class: 'dot', 'data-online': String(online), 'aria-hidden': 'true' }),
      el('span', { class: 'mono', title: n.node_id }, shortId(n.node_id, 16)),
      el('span', {}, n.is_self ? 'this node' : n.link),
      el('span', { class: 'hint' }, `${state} · height ${n.height}`),
      ...(n.address ? [el('span', { class: 'hint mono' }, n.address)] : []));
  }));
}

async function refreshPeers(client: GsioClient): Promise<void> {
  if (!client.connected) return;
  try {
    renderPeers((await client.knownNodes()).peers);
  } catch {
    // Shown again on the next tick; the connection pill tells what is wrong.
  }
}

// --- note form -------------------------------------------------------------------------------

function wireForm(client: GsioClient): void {
  ui.nickname.value = localStorage.getItem(NICKNAME_KEY) ?? '';
  ui.nickname.addEventListener('input', () => {
    const nick = ui.nickname.value.trim();
    if (nick) localStorage.setItem(NICKNAME_KEY, nick);
    else localStorage.removeItem(NICKNAME_KEY);
  });
  ui.text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = ui.text.value.trim();
    if (!text) {
      ui.noteStatus.textContent = 'Write something first.';
      return;
    }
    ui.submit.disabled = true;
    ui.noteStatus.textContent = client.connected ? 'adding…' : 'waiting for the node…';
    try {
      const entry = await client.addEntry(makeNote(text, ui.nickname.value.trim()));
      ui.text.value = '';
      ui.noteStatus.textContent = `Added: ${shortId(entry.id, 18)}`;
    } catch (err) {
      ui.noteStatus.textContent = `Not added: ${(err as Error).message}`;
    } finally {
      ui.submit.disabled = false;
      ui.text.focus();
    }
  });
}

// --- start -----------------------------------------------------------------------------------

function wireHistory(): void {
  const rerender = () => renderHistory();
  ui.filterForm.addEventListener('input', rerender);
  ui.filterForm.addEventListener('submit', (ev) => ev.preventDefault());
  // `reset` fires before the fields are cleared.
  ui.filterForm.addEventListener('reset', () => setTimeout(rerender, 0));
}

async function showNodeId(client: GsioClient): Promise<void> {
  try {
    const info = await client.nodeInfo();
    selfId = info.node_id;
    ui.nodeId.textContent = `node ${shortId(selfId, 16)}`;
    ui.nodeId.title = selfId;
    if (info.protocol !== PROTOCOL_VERSION) {
      notify(`This page speaks protocol ${PROTOCOL_VERSION}, the node ${String(info.protocol ?? 1)}: ` +
             'its entries may not verify here. Reload the page from the node once it has been updated.');
    }
  } catch (err) {
    notify(`The node did not answer: ${(err as Error).message}`);
  }
}

async function start(): Promise<void> {
  // The page's own origin is the node: the UI talks to whichever node served it.
  const client = new GsioClient(location.origin, { auth: { client: 'gsio-web' } });
  client.onState(showConnection);
  showConnection(client.status);
  wireForm(client);
  wireHistory();
  live = new LiveLedger(client);
  live.onChange(onLedgerChange);
  live.onVerification(showVerification);
  live.onError((err) => notify(`Could not load the chain: ${err.message}`));
  client.onState((s) => {
    if (s.state !== 'connected') return;
    void refreshPeers(client);
    if (!selfId) void showNodeId(client); // the first attempt failed: try again now
  });
  setInterval(() => void refreshPeers(client), PEER_REFRESH_MS);
  ui.dialog.addEventListener('close', () => {
    // Give focus back to where the reader was.
    const back = document.querySelector<HTMLElement>(`#history-results button, #feed button`);
    if (document.activeElement === document.body) back?.focus();
  });
  await showNodeId(client);
  await live.start();
  document.body.dataset.ready = 'true';
}

void start();
