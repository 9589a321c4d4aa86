// The web UI: connects to the node that served this page, keeps a window of its newest entries
// with LiveLedger (verified here, in the browser, with the history below it checked in the
// background from this browser's checkpoint), and renders the feed, the note form, peers and
// history (the window, or older pages fetched from the node on demand). On a
// private network (the node sends a challenge) it also joins with an invite link, proves this
// browser's key on every connection, checks every author's signature and lists the members.
import {
  ChainVerifier, GsioClient, GsioRequestError, LiveLedger, computeEntryHash, webCryptoEd25519Available, PROTOCOL_VERSION, fingerprint, newSeed, nickProblem, nodeIdFromSeed,
  readInvite, redeemInvite, unixUsFromId, verifyAuthorBlock, verifyEntry, type Challenge, type ConnectionStatus, type Entry,
  type HistoryQuery, type Invite, type KnownNode, type LedgerChange, type Members, type Verification, type VerifyProblem,
} from '@gsio/client';
import { idbCheckpoints } from './checkpoints.js';
import { deleteKey, loadKey, saveKey, type StoredKey } from './keystore.js';
import { datetimeAttribute, makeNote, matches, nicknameOf, shortId, textOf, unixMs, type HistoryFilter } from './notes.js';

const NICKNAME_KEY = 'gsio.nickname';
const FEED_SIZE = 50;
const HISTORY_SIZE = 200;
// Entries the page keeps (LiveLedger's window): the feed and the history's first view. Older
// history is fetched from the node a page at a time, and let go again.
const WINDOW = 500;
const HISTORY_PAGE = 200;
// A search of the whole chain stops at this many more matches per click, or after this many
// answers from the node (each looks at up to 20,000 entries), whichever comes first.
const SEARCH_SIZE = 200;
const SEARCH_ROUNDS = 25;
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
  access: $<HTMLParagraphElement>('access'),
  me: $('me'),
  join: $('join'),
  joinForm: $<HTMLFormElement>('join-form'),
  joinNetwork: $('join-network'),
  joinRole: $('join-role'),
  joinKey: $('join-key'),
  joinNick: $<HTMLInputElement>('join-nick'),
  joinSubmit: $<HTMLButtonElement>('join-submit'),
  joinStatus: $('join-status'),
  form: $<HTMLFormElement>('note-form'),
  nicknameField: $('nickname-field'),
  nickname: $<HTMLInputElement>('nickname'),
  noteHint: $('note-hint'),
  authorHint: $('author-hint'),
  text: $<HTMLTextAreaElement>('note-text'),
  submit: $<HTMLButtonElement>('note-submit'),
  noteStatus: $('note-status'),
  feed: $<HTMLOListElement>('feed'),
  feedCount: $('feed-count'),
  peers: $<HTMLUListElement>('peers'),
  membersSection: $('members-section'),
  membersLink: $('members-link'),
  networkName: $('network-name'),
  members: $<HTMLUListElement>('members'),
  memberChanges: $<HTMLOListElement>('member-changes'),
  filterForm: $<HTMLFormElement>('history-filter'),
  filterAuthor: $<HTMLSelectElement>('filter-author'),
  filterNickname: $<HTMLInputElement>('filter-nickname'),
  filterText: $<HTMLInputElement>('filter-text'),
  filterFrom: $<HTMLInputElement>('filter-from'),
  filterTo: $<HTMLInputElement>('filter-to'),
  historySearchMore: $<HTMLButtonElement>('history-search-more'),
  historyCount: $('history-count'),
  history: $<HTMLOListElement>('history-results'),
  historyRange: $('history-range'),
  historyOlder: $<HTMLButtonElement>('history-older'),
  historyNewer: $<HTMLButtonElement>('history-newer'),
  historyNewest: $<HTMLButtonElement>('history-newest'),
  historyGoto: $<HTMLFormElement>('history-goto'),
  historyHeight: $<HTMLInputElement>('history-height'),
  dialog: $<HTMLDialogElement>('entry-detail'),
  detailTitle: $('detail-title'),
  detailFields: $('detail-fields'),
  detailData: $('detail-data'),
  detailPrevious: $<HTMLButtonElement>('detail-previous'),
};

let selfId = '';
let live: LiveLedger;
let gsio: GsioClient;
let engine = 'JavaScript';
// The private network's challenge (null on an open network), and this browser's key for it once
// the node took it. Reading starts when the node lets this page read (`reading`).
let network: Challenge | null = null;
let me: StoredKey | null = null;
let reading = false;
// Every key the membership ever named, with its nick and role: removed authors keep their names.
const memberNames = new Map<string, { nick: string | undefined; role: string }>();

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
  const b = ui.badge;
  // For tests and the curious: what was verified, as numbers.
  (window as unknown as { gsioVerification: Verification }).gsioVerification = v;
  b.dataset.height = String(v.height);
  b.dataset.fromGenesis = String(v.fromGenesis);
  b.dataset.checkedThisVisit = String(v.checkedThisVisit);
  b.dataset.saved = String(v.saved);
  b.dataset.historyChecked = String(v.history.checked);
  const how = `hashes, links and Ed25519 signatures checked on this device (signatures by ${engine})`;
  if (v.state === 'failed') {
    const p = v.problem;
    b.dataset.state = 'failed';
    b.textContent = `✖ chain verification failed at entry #${p?.index ?? '?'}: ${p?.reason ?? 'unknown'}`;
    b.title = p ? `${p.id ?? ''}: ${p.message}` : '';
  } else if (v.complete) {
    b.dataset.state = 'verified';
    b.textContent = v.height === 0 ? '✔ chain verified in your browser · empty'
      : `✔ chain verified in your browser · ${num(v.height)} ${v.height === 1 ? 'entry' : 'entries'} (#0–#${num(v.height - 1)})`;
    b.title = v.checkpoint > 0
      ? `entries #0–#${num(v.checkpoint - 1)} on an earlier visit, the ${num(v.height - v.checkpoint)} newer ones now; ${how}`
      : `every entry, from #0 to the tip; ${how}`;
  } else if (v.state === 'verifying') {
    b.dataset.state = 'verifying';
    b.textContent = `verifying in your browser… newest ${num(v.verified)}/${num(live.entries.length)}`;
    b.title = '';
  } else {
    // The window is verified; the history below it is not (yet), and the badge says so.
    b.dataset.state = 'partial';
    const older = v.history.state === 'running'
      ? `older history: ${num(v.fromGenesis)} of ${num(v.windowStart)} checked…`
      : v.history.state === 'failed' ? 'older history: not checked (the node did not answer; it is tried again on reconnect)'
        : 'older history: not checked';
    b.textContent = `newest ${num(v.verified)} verified in your browser; ${older}`;
    b.title = `entries #${num(v.windowStart)}–#${num(v.height - 1)} verified here; #0–#${num(Math.max(0, v.fromGenesis - 1))} ` +
      `verified from the first entry so far; ${how}`;
  }
}

function num(n: number): string {
  return n.toLocaleString('en-US');
}

function notify(message: string): void {
  ui.notice.textContent = message;
  ui.notice.hidden = false;
}

// --- entries -------------------------------------------------------------------------------

// An entry's author block and its verdict: checked once per entry object (a changed copy is
// another object), since the feed and history are redrawn often and a check costs a signature.
interface AuthorCheck {
  key: string;
  problem: VerifyProblem | null;
}
const authorChecks = new WeakMap<Entry, AuthorCheck | null>();

function authorOf(entry: Entry): AuthorCheck | null {
  if (!network) return null; // on an open network an author block is just data
  const known = authorChecks.get(entry);
  if (known !== undefined) return known;
  const data = entry.data;
  let check: AuthorCheck | null = null;
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && 'author' in data) {
    const block = data.author;
    const key = typeof block === 'object' && block !== null && !Array.isArray(block) && typeof block.key === 'string'
      ? block.key : '';
    check = { key, problem: verifyAuthorBlock(data, network.network_id, unixUsFromId(entry.id)) };
  }
  authorChecks.set(entry, check);
  return check;
}

function nameOf(key: string): string {
  const known = memberNames.get(key);
  return known?.nick || (known?.role === 'admin' ? 'admin' : 'unknown');
}

function authorBadge(a: AuthorCheck): HTMLElement {
  const ok = a.problem === null;
  const badge = el('span', {
    class: 'author', 'data-author': a.key, 'data-verified': String(ok),
    title: ok ? `written by ${a.key}: the author's signature was checked in your browser`
              : `the author's signature does not verify: ${a.problem?.message ?? ''}`,
  }, `${ok ? '✔' : '✖'} ${nameOf(a.key)} (${a.key ? fingerprint(a.key) : 'no key'})`);
  return badge;
}

// A list of entries shown (the window or a fetched page of history): where it starts on the chain
// and whether an entry of it was verified here.
interface View {
  entries: readonly Entry[];
  base: number;
  verified: (height: number) => boolean;
  /** What "verified" means for it, when not "hash, link and signatures". */
  checks?: string;
}

// Read at the time of use: the window slides as entries come.
const windowViewObject: View = {
  get entries() { return live.entries; },
  get base() { return live.windowStart; },
  verified: (h) => live.isVerified(h),
};
function windowView(): View {
  return windowViewObject;
}

function entryItem(entry: Entry, index: number, view: View, fresh = false): HTMLLIElement {
  const author = authorOf(entry);
  const who = author ? nameOf(author.key) : nicknameOf(entry) ?? 'anonymous';
  const node = entry.creator_node_id === selfId ? 'this node' : shortId(entry.creator_node_id);
  const time = new Date(unixMs(entry));
  const open = el('button', { type: 'button', class: 'link', 'aria-label': `Details of entry ${index} by ${who}` },
    `#${index}`);
  open.addEventListener('click', () => void showDetail(entry, index, view));
  const head = el('div', { class: 'entry-head' },
    open,
    author ? authorBadge(author) : el('span', { class: 'who' }, who),
    el('span', { class: 'mono', title: `created by node ${entry.creator_node_id}` }, author ? `via ${node}` : node),
    // The title shows the exact timestamp (microseconds); datetime allows milliseconds at most.
    el('time', { datetime: datetimeAttribute(entry), title: entry.timestamp },
      Number.isNaN(time.getTime()) ? entry.timestamp : time.toLocaleString()));
  const li = el('li', { 'data-id': entry.id, 'data-hash': entry.hash, ...(fresh ? { class: 'fresh' } : {}) },
    head, el('p', { class: 'entry-text' }, textOf(entry))) as HTMLLIElement;
  return li;
}

function renderFeed(freshHashes: Set<string> = new Set()): void {
  const entries = live.entries;
  const base = live.windowStart;
  const items: HTMLLIElement[] = [];
  for (let i = entries.length - 1; i >= Math.max(0, entries.length - FEED_SIZE); i--) {
    const e = entries[i] as Entry;
    items.push(entryItem(e, base + i, windowView(), freshHashes.has(e.hash)));
  }
  ui.feed.replaceChildren(...items);
  ui.feedCount.textContent = String(live.height);
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

// The history shows the window (the newest entries, following pushes) or, once the reader pages
// back, a page of HISTORY_PAGE entries fetched from the node and verified here on its own (each
// entry's hash and signatures, and the links within the page). The filters search the entries
// shown, never the whole chain: the page says so.
interface HistoryPage extends View {
  problem: string | null;
}
let historyPage: HistoryPage | null = null;
let historyRequest = 0;

async function showHistoryPage(from: number): Promise<void> {
  const height = live.height;
  if (from + HISTORY_PAGE >= height) {
    historyPage = null; // the newest entries: the window
    renderHistory();
    return;
  }
  from = Math.max(0, from);
  const request = ++historyRequest;
  ui.historyRange.textContent = `fetching entries #${num(from)}–#${num(from + HISTORY_PAGE - 1)}…`;
  try {
    const entries = await gsio.getLedger({ from, limit: HISTORY_PAGE });
    const first = entries[0];
    const verifier = new ChainVerifier(first?.previous_hash, undefined, { networkId: live.networkId });
    const bad = await verifier.addBatch(entries);
    if (request !== historyRequest) return;
    const good = bad ? bad.index : entries.length;
    historyPage = {
      entries, base: from, verified: (h) => h - from < good,
      problem: bad ? `entry #${num(from + bad.index)} fails verification: ${bad.reason} (${bad.message})` : null,
    };
  } catch (err) {
    if (request !== historyRequest) return;
    ui.historyRange.textContent = `Could not fetch entries #${num(from)}–: ${(err as Error).message}`;
    return;
  }
  renderHistory();
}

function historyView(): View {
  return historyPage ?? windowView();
}

// A search of the whole chain on the node (find_entries) with the filters' author, nickname,
// text and time. The node looks at a bounded stretch of the chain per answer, so the page asks
// again from where it stopped, up to SEARCH_SIZE more matches or SEARCH_ROUNDS answers per click.
// Each match is verified here on its own, its hash and signatures: matches are not next to each
// other, so there are no links to check between them. Changing a filter ends the search.
interface SearchHit {
  entry: Entry;
  height: number;
  problem: VerifyProblem | null;
}
interface HistorySearch {
  query: HistoryQuery;
  hits: SearchHit[];
  goal: number;
  next: number | null | undefined;  // undefined: from the tip; null: reached the first entry
  height: number;
  running: boolean;
  error: string | null;
}
let historySearch: HistorySearch | null = null;

function searchQuery(f: HistoryFilter): HistoryQuery {
  const q: HistoryQuery = {};
  if (f.author) q.author = f.author;
  if (f.nickname) q.nickname = f.nickname;
  if (f.text) q.text = f.text;
  if (!Number.isNaN(f.from)) q.from_us = Math.max(0, f.from) * 1000;
  if (!Number.isNaN(f.to)) q.to_us = Math.max(0, f.to) * 1000 + 999;
  return q;
}

async function searchChain(further: boolean): Promise<void> {
  if (!further || !historySearch) {
    historySearch = {
      query: searchQuery(currentFilter()), hits: [], goal: 0, next: undefined, height: 0,
      running: false, error: null,
    };
  }
  const search = historySearch;
  if (search.running || search.next === null) return;
  search.goal = search.hits.length + SEARCH_SIZE;
  search.running = true;
  renderHistory();
  try {
    for (let round = 0; round < SEARCH_ROUNDS && search.hits.length < search.goal && search.next !== null; round++) {
      const answer = await gsio.findEntries({
        ...search.query, ...(search.next === undefined ? {} : { before: search.next }),
        limit: Math.min(SEARCH_SIZE, search.goal - search.hits.length),
      });
      if (historySearch !== search) return;  // a filter changed meanwhile
      answer.entries.forEach((entry, i) =>
        search.hits.push({ entry, height: answer.heights[i] ?? NaN, problem: verifyEntry(entry) }));
      if (search.height === 0) search.height = answer.height;
      search.next = answer.next;
      renderHistory();
    }
  } catch (err) {
    if (historySearch !== search) return;
    search.error = (err as Error).message;
  }
  search.running = false;
  renderHistory();
}

function endSearch(): void {
  historySearch = null;
}

function renderSearch(search: HistorySearch): void {
  const items = search.hits.map(({ entry, height, problem }) => {
    const li = entryItem(entry, height, {
      entries: [entry], base: height, verified: () => problem === null, checks: 'hash and signatures',
    });
    if (problem) {
      li.dataset.problem = problem.reason;
      li.append(el('p', { class: 'problem' }, `✖ fails verification: ${problem.reason} (${problem.message})`));
    }
    return li;
  });
  ui.history.replaceChildren(...items);
  ui.history.dataset.view = 'search';
  const bad = search.hits.filter((hit) => hit.problem).length;
  const reached = search.next === null ? 'the first entry'
    : search.next === undefined ? 'nothing yet' : `#${num(search.next)}`;
  ui.historyRange.textContent = search.error
    ? `The search stopped: ${search.error}`
    : `Searched the node's chain of ${num(search.height)} from the newest entry down to ${reached}` +
      (search.running ? '…' : '') +
      (search.hits.length ? `; each match's hash and signatures ${bad ? `checked here, ${bad} failed` : 'checked here'}` : '');
  ui.historyRange.dataset.problem = String(bad > 0 || search.error !== null);
  ui.historyCount.dataset.count = String(search.hits.length);
  ui.historyCount.dataset.searched = search.next === null ? 'all' : String(search.next ?? '');
  ui.historyCount.textContent = `Found on the node: ${search.hits.length} ${search.hits.length === 1 ? 'entry' : 'entries'}` +
    (search.next === null ? ' (the whole chain)' : '');
  ui.historySearchMore.hidden = search.next === null || search.error !== null;
  ui.historySearchMore.disabled = search.running;
  ui.historyOlder.disabled = true;
  ui.historyNewer.disabled = true;
  ui.historyNewest.disabled = false;
}

function renderHistory(): void {
  if (historySearch) return renderSearch(historySearch);
  ui.historySearchMore.hidden = true;
  const f = currentFilter();
  const view = historyView();
  const entries = view.entries;
  const hits: HTMLLIElement[] = [];
  let count = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as Entry;
    if (!matches(e, f)) continue;
    count++;
    if (hits.length < HISTORY_SIZE) hits.push(entryItem(e, view.base + i, view));
  }
  ui.history.replaceChildren(...hits);
  const last = view.base + entries.length - 1;
  const range = entries.length === 0 ? 'no entries' : `#${num(view.base)}–#${num(last)}`;
  ui.history.dataset.from = String(view.base);
  ui.history.dataset.view = historyPage ? 'page' : 'window';
  delete ui.historyCount.dataset.searched;
  ui.historyRange.textContent = historyPage
    ? `Entries ${range} of ${num(live.height)}, fetched from the node; ` +
      (historyPage.problem ? `✖ ${historyPage.problem}` : 'hashes, signatures and links within the page checked in your browser')
    : `The newest entries, ${range} of ${num(live.height)}, kept up to date`;
  ui.historyRange.dataset.problem = String(historyPage?.problem !== null && historyPage !== null);
  ui.historyOlder.disabled = view.base === 0;
  ui.historyNewer.disabled = historyPage === null;
  ui.historyNewest.disabled = historyPage === null;
  ui.historyCount.dataset.count = String(count);
  const loaded = `the ${num(entries.length)} ${entries.length === 1 ? 'entry' : 'entries'} shown (${range})`;
  ui.historyCount.textContent = entries.length < live.height || view.base > 0
    ? `Matching: ${count} of ${loaded}; "Search the whole chain" asks the node for all ${num(live.height)}` +
      (count > hits.length ? `; showing the newest ${hits.length}` : '')
    : `Matching: ${count} of ${entries.length}` + (count > hits.length ? `; showing the newest ${hits.length}` : '');
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

function isMembershipEntry(e: Entry): boolean {
  const d = e.data;
  return typeof d === 'object' && d !== null && !Array.isArray(d) && (d.gsio === 'member' || d.gsio === 'redeem');
}

function onLedgerChange(change: LedgerChange): void {
  if (network && (change.kind === 'reset' || (change.kind === 'append' ? change.entries : change.added).some(isMembershipEntry))) {
    void refreshMembers();
  }
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

async function showDetail(entry: Entry, height: number, view: View): Promise<void> {
  const verified = view.verified(height);
  const rows: [string, string][] = [
    ['index', String(height)],
    ['id', entry.id],
    ['time', entry.timestamp],
    ['author', entry.creator_node_id + (entry.creator_node_id === selfId ? ' (this node)' : '')],
    ...authorRows(entry),
    ['nickname', nicknameOf(entry) ?? '—'],
    ['hash', entry.hash],
    ['previous hash', entry.previous_hash],
    ...Object.entries(entry.signatures).map(([signer, sig]): [string, string] =>
      [signer === entry.creator_node_id ? 'signature' : `attestation ${shortId(signer)}`, sig]),
    ['verified here', verified ? `yes: ${view.checks ?? 'hash, link and signatures'} checked in this browser` : 'not (yet)'],
  ];
  ui.detailTitle.textContent = `Entry #${height}`;
  ui.detailFields.replaceChildren(...rows.flatMap(([k, v]) => [
    el('dt', {}, k), el('dd', { 'data-field': k }, v)]));
  ui.detailData.textContent = JSON.stringify(entry.data, null, 2);
  ui.detailPrevious.disabled = height === 0;
  ui.detailPrevious.onclick = height === 0 ? null : () => void showPrevious(entry, height, view);
  if (!ui.dialog.open) ui.dialog.showModal();
}

// The entry before `entry`: from the list shown, or fetched from the node. A fetched one counts as
// verified when `entry` is and it is the very entry `entry` links to (its hash recomputed).
async function showPrevious(entry: Entry, height: number, view: View): Promise<void> {
  const inView = view.entries[height - 1 - view.base];
  if (inView && height - 1 >= view.base) return showDetail(inView, height - 1, view);
  try {
    const [previous] = await gsio.getLedger({ from: height - 1, limit: 1 });
    if (!previous) return;
    const linked = previous.hash === entry.previous_hash && computeEntryHash(previous) === previous.hash;
    const known = view.verified(height) && linked;
    await showDetail(previous, height - 1, { entries: [previous], base: height - 1, verified: () => known });
  } catch (err) {
    notify(`Could not fetch entry #${height - 1}: ${(err as Error).message}`);
  }
}

function authorRows(entry: Entry): [string, string][] {
  const a = authorOf(entry);
  if (!a) return [];
  return [
    ['written by', `${nameOf(a.key)} (${a.key})`],
    ['author signature', a.problem ? `does not verify: ${a.problem.message}` : 'verified in this browser'],
  ];
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
  if (!client.connected || !reading) return;
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
      // A member writes as an author; the membership knows the nick.
      const entry = network ? await client.addAuthoredEntry(makeNote(text, ''))
                            : await client.addEntry(makeNote(text, ui.nickname.value.trim()));
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

// --- members ---------------------------------------------------------------------------------

let membersClient: GsioClient | null = null;
let membersAsked = false; // a refresh is running; another one was asked for meanwhile
let membersRunning = false;

function usTime(us: number): HTMLElement {
  const date = new Date(Math.floor(us / 1000));
  return el('time', { datetime: date.toISOString() }, date.toLocaleString());
}

function renderMembers(m: Members): void {
  memberNames.clear();
  for (const c of m.changes) memberNames.set(c.key, { nick: c.nick, role: c.role });
  for (const r of m.members) memberNames.set(r.key, { nick: r.nick, role: r.role });
  if (m.network) ui.networkName.textContent = m.network.name;
  const who = (key: string) => `${nameOf(key)} (${fingerprint(key)})`;
  ui.members.replaceChildren(...m.members.map((r) =>
    el('li', { 'data-key': r.key, 'data-role': r.role },
      el('span', { class: 'who' }, r.nick || r.role),
      el('span', { class: 'mono', title: r.key }, fingerprint(r.key)),
      el('span', { class: 'hint' }, r.role, r.key === me?.key ? ' · you' : ''))));
  // Newest first, as the feed.
  ui.memberChanges.replaceChildren(...[...m.changes].reverse().map((c) =>
    el('li', { 'data-op': c.op, 'data-key': c.key, 'data-by': c.by, 'data-entry': c.entry_id },
      usTime(c.time_us), ' ',
      el('strong', {}, c.nick || fingerprint(c.key)),
      ` (${fingerprint(c.key)}) ${c.op} as ${c.role} by ${who(c.by)}, entry #${c.index}`)));
  ui.membersSection.dataset.changes = String(m.changes.length);
}

// Asked for on every membership entry; one request at a time, and one more if any came meanwhile.
async function refreshMembers(): Promise<void> {
  const client = membersClient;
  if (!client || !reading) return;
  if (membersRunning) {
    membersAsked = true;
    return;
  }
  membersRunning = true;
  try {
    do {
      membersAsked = false;
      renderMembers(await client.getMembers());
      renderChanges(); // the names in the feed
    } while (membersAsked);
  } catch (err) {
    notify(`Could not load the members: ${(err as Error).message}`);
  } finally {
    membersRunning = false;
  }
}

// --- joining a private network ------------------------------------------------------------------

// Resolves with the node's challenge once its `auth` came (a private network's node sends the
// challenge first), or null: an open network.
function firstChallenge(client: GsioClient): Promise<Challenge | null> {
  if (client.authReply !== undefined) return Promise.resolve(client.challenge);
  return new Promise((resolve) => {
    const off = client.onAuth(() => {
      off();
      resolve(client.challenge);
    });
  });
}

function forgetInviteLink(): void {
  // So that a reload or a bookmark does not offer the spent invite again.
  history.replaceState(history.state, '', location.pathname + location.search);
}

function showAccess(message: string): void {
  ui.access.textContent = message;
  ui.access.hidden = false;
}

function setWriting(allowed: boolean, why = ''): void {
  ui.submit.disabled = !allowed;
  ui.text.disabled = !allowed;
  ui.noteStatus.textContent = why;
}

async function becomeMember(client: GsioClient, key: StoredKey): Promise<boolean> {
  try {
    const { role } = await client.authenticate(key.seed);
    me = key;
    ui.me.textContent = `you are ${key.nick} (${fingerprint(key.key)})`;
    ui.me.title = `your key, kept in this browser: ${key.key} (${role})`;
    ui.me.dataset.key = key.key;
    ui.me.hidden = false;
    ui.access.hidden = true;
    if (role === 'author') setWriting(true);
    else setWriting(false, `As a ${role} you read here; only authors write.`);
    return true;
  } catch (err) {
    showAccess(`The node did not take this browser's key ${fingerprint(key.key)} (${(err as Error).message}). ` +
               'Open a new invite link to join again.');
    setWriting(false, 'Only members write here.');
    return false;
  }
}

function showJoinForm(client: GsioClient, challenge: Challenge, invite: Invite): void {
  const seed = newSeed();
  const key = nodeIdFromSeed(seed);
  ui.join.hidden = false;
  ui.joinNetwork.textContent = `“${challenge.network_name}”`;
  ui.joinRole.textContent = invite.role;
  ui.joinKey.textContent = fingerprint(key);
  ui.joinKey.title = key;
  ui.joinNick.value = localStorage.getItem(NICKNAME_KEY) ?? `guest-${key.slice(0, 4)}`;
  const check = () => {
    const bad = nickProblem(ui.joinNick.value.trim());
    ui.joinNick.setCustomValidity(bad ?? '');
    ui.joinNick.setAttribute('aria-invalid', String(bad !== null));
    return bad;
  };
  ui.joinNick.addEventListener('input', () => { ui.joinStatus.textContent = check() ?? ''; });
  ui.joinForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const bad = check();
    if (bad) {
      ui.joinStatus.textContent = bad;
      ui.joinNick.focus();
      return;
    }
    const nick = ui.joinNick.value.trim();
    ui.joinSubmit.disabled = true;
    ui.joinStatus.textContent = 'joining…';
    const record: StoredKey = { network: challenge.network_id, seed, key, nick, joined: Date.now() };
    try {
      // Kept before redeeming: if the answer is lost, the key the node may have admitted is not.
      await saveKey(record);
      try {
        await client.addEntry(redeemInvite(seed, invite, nick));
      } catch (err) {
        if (err instanceof GsioRequestError) await deleteKey(challenge.network_id);
        throw err;
      }
      forgetInviteLink();
      localStorage.setItem(NICKNAME_KEY, nick);
      ui.join.hidden = true;
      if (await becomeMember(client, record)) await startReading(client);
    } catch (err) {
      ui.joinStatus.textContent = `Not joined: ${(err as Error).message}`;
      ui.joinSubmit.disabled = false;
    }
  });
  ui.joinNick.focus();
  ui.joinNick.select();
}

// A private network: this browser's key for it proves itself, or an invite link joins it, or the
// page says why it shows nothing.
async function enterNetwork(client: GsioClient, challenge: Challenge): Promise<void> {
  ui.membersSection.hidden = false;
  ui.membersLink.hidden = false;
  ui.networkName.textContent = challenge.network_name;
  ui.nicknameField.hidden = true; // a member's nick is the one the membership holds
  ui.noteHint.hidden = true;
  ui.authorHint.hidden = false;
  const link = /[#&]invite=/.test(location.hash);
  let stored: StoredKey | undefined;
  try {
    stored = await loadKey(challenge.network_id);
  } catch (err) {
    notify(`This browser cannot keep keys (IndexedDB: ${(err as Error).message}), so it cannot join.`);
  }
  if (stored) {
    if (link) forgetInviteLink(); // joined already: the link is not redeemed twice
    await becomeMember(client, stored);
    return;
  }
  setWriting(false, 'Only members write here: open an invite link.');
  const members = challenge.read === 'members'
    ? 'This network is for its members: open an invite link to join it.'
    : 'Anyone may read this network; to write, open an invite link.';
  if (challenge.read === 'members') {
    // Nothing is read until a key is proven: there is no chain here to verify.
    ui.badge.dataset.state = 'idle';
    ui.badge.textContent = 'not read: members only';
  }
  if (!link) {
    showAccess(members);
    return;
  }
  let invite: Invite;
  try {
    invite = readInvite(location.href, { networkId: challenge.network_id });
  } catch (err) {
    showAccess(`This invite link cannot be used: ${(err as Error).message}. ${members}`);
    return;
  }
  if (invite.role === 'node') {
    showAccess('This is an invite for a node: start one with gsio-node --join LINK; a browser joins with an author or reader invite.');
    return;
  }
  showJoinForm(client, challenge, invite);
}

async function startReading(client: GsioClient): Promise<void> {
  if (reading) return;
  reading = true;
  void refreshPeers(client);
  await showNodeId(client);
  await live.start();
}

// --- start -----------------------------------------------------------------------------------

function wireHistory(): void {
  const rerender = () => renderHistory();
  ui.historyOlder.addEventListener('click', () => {
    const base = historyView().base;
    void showHistoryPage(Math.max(0, base - HISTORY_PAGE));
  });
  ui.historyNewer.addEventListener('click', () => {
    if (historyPage) void showHistoryPage(historyPage.base + HISTORY_PAGE);
  });
  ui.historyNewest.addEventListener('click', () => { endSearch(); void showHistoryPage(Number.MAX_SAFE_INTEGER); });
  ui.historyGoto.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const h = Number(ui.historyHeight.value);
    if (Number.isSafeInteger(h) && h >= 0) { endSearch(); void showHistoryPage(h); }
  });
  ui.filterForm.addEventListener('input', () => { endSearch(); rerender(); });
  ui.filterForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void searchChain(false);
  });
  ui.historySearchMore.addEventListener('click', () => void searchChain(true));
  // `reset` fires before the fields are cleared.
  ui.filterForm.addEventListener('reset', () => { endSearch(); setTimeout(rerender, 0); });
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
  gsio = client;
  live = new LiveLedger(client, { window: WINDOW, checkpoints: idbCheckpoints });
  void webCryptoEd25519Available().then((yes) => {
    engine = yes ? 'Web Crypto' : 'JavaScript';
    ui.badge.dataset.engine = yes ? 'webcrypto' : 'js';
  });
  live.onChange(onLedgerChange);
  live.onVerification(showVerification);
  live.onError((err) => notify(`Could not load the chain: ${err.message}`));
  client.onState((s) => {
    if (s.state !== 'connected' || !reading) return;
    void refreshPeers(client);
    if (!selfId) void showNodeId(client); // the first attempt failed: try again now
  });
  setInterval(() => void refreshPeers(client), PEER_REFRESH_MS);
  ui.dialog.addEventListener('close', () => {
    // Give focus back to where the reader was.
    const back = document.querySelector<HTMLElement>(`#history-results button, #feed button`);
    if (document.activeElement === document.body) back?.focus();
  });
  membersClient = client;
  // An invite link pasted into the address bar of an open page changes only the hash.
  window.addEventListener('hashchange', () => {
    if (/[#&]invite=/.test(location.hash)) location.reload();
  });
  network = await firstChallenge(client);
  if (network) await enterNetwork(client, network);
  if (!network || me || network.read === 'anyone') await startReading(client);
  document.body.dataset.ready = 'true';
}

void start();
