// The member keys of this browser, one per private network, in IndexedDB: the seed is made here
// (crypto.getRandomValues) and never leaves the browser; only signatures made with it do. An
// origin's IndexedDB is its own, so each node's page keeps its own keys.
import { runRequest } from './idb.js';

const DB_NAME = 'gsio';
const STORE = 'keys';

export interface StoredKey {
  /** The network's id (its charter's hash): the record's key. */
  network: string;
  /** 64 hex: the Ed25519 seed. */
  seed: string;
  /** Its public key. */
  key: string;
  nick: string;
  /** When this browser redeemed the invite, unix ms. */
  joined: number;
}

const run = <T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> =>
  runRequest({ db: DB_NAME, store: STORE, keyPath: 'network' }, mode, act);

function isStoredKey(value: unknown): value is StoredKey {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.network === 'string' && typeof v.seed === 'string' && /^[0-9a-f]{64}$/.test(v.seed) &&
    typeof v.key === 'string' && typeof v.nick === 'string' && typeof v.joined === 'number';
}

/** This browser's key for `network`, if it has one. */
export async function loadKey(network: string): Promise<StoredKey | undefined> {
  const value: unknown = await run('readonly', (store) => store.get(network));
  return isStoredKey(value) ? value : undefined;
}

export async function saveKey(record: StoredKey): Promise<void> {
  await run('readwrite', (store) => store.put(record));
}

export async function deleteKey(network: string): Promise<void> {
  await run('readwrite', (store) => store.delete(network));
}
