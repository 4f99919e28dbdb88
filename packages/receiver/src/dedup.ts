/**
 * Where seen webhook ids are kept. `add` records an id and says whether it was new;
 * a shared store (Redis `SET id 1 NX PX ttl`, a unique index) makes that atomic
 * across processes.
 */
export interface SeenStore {
  add(id: string, ttlMs: number): Promise<boolean> | boolean;
}

export interface DeduplicatorOptions {
  /** Default: in memory, for one process. */
  store?: SeenStore;
  /** How long an id is remembered (default 4 days: longer than Hookline's 72-hour schedule with its jitter). */
  ttlMs?: number;
  /** In-memory store only: the most ids kept; the least recently seen go first (default 100,000). */
  maxEntries?: number;
}

export interface Deduplicator {
  /** True the first time an id is seen, false for a repeat (a retry of a delivery already handled). */
  firstTime(webhookId: string): Promise<boolean>;
}

/**
 * Delivery is at least once: the same webhook can arrive twice (a retry after a
 * timeout that your server did in fact process). Check `webhook-id` before acting.
 */
export function createDeduplicator(options: DeduplicatorOptions = {}): Deduplicator {
  const ttlMs = options.ttlMs ?? 4 * 24 * 3600 * 1000;
  const store = options.store ?? memoryStore(options.maxEntries ?? 100_000);
  return {
    async firstTime(webhookId) {
      return await store.add(webhookId, ttlMs);
    },
  };
}

/** An LRU of ids with expiry times; a Map keeps insertion order, so the oldest is first. */
export function memoryStore(maxEntries: number, now: () => number = Date.now): SeenStore {
  const seen = new Map<string, number>();
  return {
    add(id, ttlMs) {
      const t = now();
      const expires = seen.get(id);
      if (expires !== undefined && expires > t) {
        seen.delete(id);
        seen.set(id, expires);
        return false;
      }
      seen.delete(id);
      seen.set(id, t + ttlMs);
      while (seen.size > maxEntries) {
        const oldest = seen.keys().next().value as string;
        seen.delete(oldest);
      }
      return true;
    },
  };
}
