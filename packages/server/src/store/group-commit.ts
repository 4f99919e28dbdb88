import { HooklineError } from "../errors.ts";
import type { IngestRequest, IngestResult, Store } from "./store.ts";

/** The most events one commit takes; the rest wait for the next. */
const MAX_EVENTS_PER_COMMIT = 5000;

export interface GroupCommit {
  /** Resolves once the request's events and deliveries are durable. */
  submit(request: IngestRequest): Promise<IngestResult>;
}

/**
 * Group commit for ingest: requests that arrive while a commit is running are
 * written together in the next transaction, so many 202s share one fsync and
 * none is weakened.
 */
export function createGroupCommit(store: Store, deps: { now: () => number; onDeliveries: () => void }): GroupCommit {
  const queue: { request: IngestRequest; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  let committing = false;

  /** One commit at a time: what arrives meanwhile waits and goes into the next, larger one. */
  function kick() {
    if (committing || scheduled || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => void commit());
  }

  async function commit() {
    scheduled = false;
    committing = true;
    let events = 0;
    let count = 0;
    while (count < queue.length && events < MAX_EVENTS_PER_COMMIT)
      events += (queue[count++] as (typeof queue)[0]).request.events.length;
    const batch = queue.splice(0, count);
    try {
      const results = await store.ingest(
        batch.map((item) => item.request),
        deps.now(),
      );
      for (const [i, item] of batch.entries()) item.resolve(results[i] as IngestResult);
      if (results.some((result) => result.ok && result.deliveries > 0)) deps.onDeliveries();
    } catch (error) {
      const failure = new HooklineError("store_unavailable", "the event store could not commit; nothing was accepted", {
        status: 503,
        cause: error,
        headers: { "retry-after": "1" },
      });
      for (const item of batch) item.reject(failure);
    } finally {
      committing = false;
      kick();
    }
  }

  return {
    submit(request) {
      return new Promise((resolve, reject) => {
        queue.push({ request, resolve, reject });
        kick();
      });
    },
  };
}
