// One object store of an IndexedDB database, opened for each request and closed after it: the
// page keeps no connection open that a newer version of the page would have to wait for.
export interface ObjectStoreRef {
  db: string;
  store: string;
  keyPath: string;
}

function openDb(ref: ObjectStoreRef): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(ref.db, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(ref.store, { keyPath: ref.keyPath });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error(`IndexedDB: cannot open ${ref.db}`));
  });
}

/** Runs one request in a transaction of its own; resolves once the transaction commits, so a
 *  record reported saved is on disk. */
export async function runRequest<T>(ref: ObjectStoreRef, mode: IDBTransactionMode,
                                    act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb(ref);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(ref.store, mode);
      const request = act(tx.objectStore(ref.store));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB: the transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB: the transaction was aborted'));
    });
  } finally {
    db.close();
  }
}
