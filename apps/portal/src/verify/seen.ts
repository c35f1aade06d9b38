/**
 * The checkpoint this browser last verified for each log, kept in
 * IndexedDB: the next visit must be consistent with it (an append-only log
 * never shrinks and never forks). Keyed by origin and log key, so a
 * re-created log under a new key starts afresh.
 */
export interface SeenCheckpoint {
  readonly size: bigint;
  /** Base64 of the 32-byte root. */
  readonly rootHash: string;
  /** The signed note as it was verified. */
  readonly note: string;
  /** When this browser verified it (ms since the epoch). */
  readonly at: number;
}

export interface SeenStore {
  get(key: string): Promise<SeenCheckpoint | undefined>;
  put(key: string, seen: SeenCheckpoint): Promise<void>;
}

const DB_NAME = 'glasshouse-portal';
const STORE = 'seen-checkpoints';

interface Stored {
  size: string;
  rootHash: string;
  note: string;
  at: number;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => {
      resolve(req.result);
    };
    req.onerror = () => {
      reject(req.error ?? new Error('IndexedDB request failed'));
    };
  });
}

/** The browser's store; a memory store when IndexedDB is unavailable (private windows of some browsers). */
export async function openSeenStore(): Promise<SeenStore & { readonly persistent: boolean }> {
  if (typeof indexedDB === 'undefined') return { ...memorySeenStore(), persistent: false };
  const open = indexedDB.open(DB_NAME, 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore(STORE);
  };
  const db = await request(open);
  return {
    persistent: true,
    async get(key) {
      const tx = db.transaction(STORE, 'readonly');
      const v = (await request(tx.objectStore(STORE).get(key))) as Stored | undefined;
      return v === undefined ? undefined : { ...v, size: BigInt(v.size) };
    },
    async put(key, seen) {
      const tx = db.transaction(STORE, 'readwrite');
      const value: Stored = { ...seen, size: seen.size.toString() };
      await request(tx.objectStore(STORE).put(value, key));
    },
  };
}

export function memorySeenStore(): SeenStore {
  const map = new Map<string, SeenCheckpoint>();
  return {
    get: (key) => Promise.resolve(map.get(key)),
    put: (key, seen) => {
      map.set(key, seen);
      return Promise.resolve();
    },
  };
}
