// What this browser verified of each chain, in IndexedDB: a checkpoint {height, hash} says that
// entries 0 to height - 1 were verified here in full from the genesis link (LiveLedger makes and
// reads them). Keyed by the hash of the chain's first entry: on a private network that is its
// network id (the charter's hash); on an open one it tells the chains of different networks apart
// whatever node or address serves them. An origin's IndexedDB is its own, so each node's page
// keeps its own checkpoints. Its own database, apart from the key store (keystore.ts).
import type { Checkpoint, CheckpointStore } from '@gsio/client';

const DB_NAME = 'gsio-verify';
const STORE = 'checkpoints';

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'chain' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB: cannot open the checkpoint store'));
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB: the transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB: the transaction was aborted'));
    });
  } finally {
    db.close();
  }
}

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
