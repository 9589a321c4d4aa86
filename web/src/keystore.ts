// The member keys of this browser, one per private network, in IndexedDB: the seed is made here
// (crypto.getRandomValues) and never leaves the browser; only signatures made with it do. An
// origin's IndexedDB is its own, so each node's page keeps its own keys.
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

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'network' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB: cannot open the key store'));
  });
}

async function run<T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      // Resolved once the transaction commits: a key reported saved is on disk.
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB: the transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB: the transaction was aborted'));
    });
  } finally {
    db.close();
  }
}

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
