// What this browser verified of each chain, in IndexedDB: a checkpoint {height, hash} says that
// entries 0 to height - 1 were verified here in full from the genesis link (LiveLedger makes and
// reads them). Keyed by the hash of the chain's first entry: on a private network that is its
// network id (the charter's hash); on an open one it tells the chains of different networks apart
// whatever node or address serves them. An origin's IndexedDB is its own, so each node's page
// keeps its own checkpoints. Its own database, apart from the key store (keystore.ts).
import type { Checkpoint, CheckpointStore } from '@gsio/client';
import { runRequest } from './idb.js';

const DB_NAME = 'gsio-verify';
const STORE = 'checkpoints';

const run = <T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> =>
  runRequest({ db: DB_NAME, store: STORE, keyPath: 'chain' }, mode, act);

function isCheckpoint(value: unknown): value is Checkpoint {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.chain === 'string' && typeof v.hash === 'string' && /^[0-9a-f]{64}$/.test(v.hash) &&
    typeof v.height === 'number' && Number.isSafeInteger(v.height) && v.height >= 1 &&
    (v.networkId === null || typeof v.networkId === 'string');
}

export const idbCheckpoints: CheckpointStore = {
  async load(chain: string): Promise<Checkpoint | undefined> {
    const value: unknown = await run('readonly', (store) => store.get(chain));
    return isCheckpoint(value) ? value : undefined;
  },
  async save(checkpoint: Checkpoint): Promise<void> {
    await run('readwrite', (store) => store.put({ ...checkpoint, at: Date.now() }));
  },
};
