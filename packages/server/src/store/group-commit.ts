import { HooklineError } from "../errors.ts";
import type { IngestRequest, IngestResult, Store } from "./store.ts";

/** Past this many events, a commit starts at once instead of waiting for the tick to end. */
const MAX_EVENTS_PER_COMMIT = 5000;

export interface GroupCommit {
  /** Resolves once the request's events and deliveries are durable. */
  submit(request: IngestRequest): Promise<IngestResult>;
}

/**
 * Group commit for ingest: requests that arrive in the same event-loop turn are
 * written in one transaction, so many 202s share one fsync and none is weakened.
 */
export function createGroupCommit(store: Store, deps: { now: () => number; onDeliveries: () => void }): GroupCommit {
  let queue: { request: IngestRequest; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  let queuedEvents = 0;
  let scheduled = false;

  async function commit() {
    scheduled = false;
    const batch = queue;
    queue = [];
    queuedEvents = 0;
    if (batch.length === 0) return;
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
    }
  }

  return {
    submit(request) {
      return new Promise((resolve, reject) => {
        queue.push({ request, resolve, reject });
        queuedEvents += request.events.length;
        if (queuedEvents >= MAX_EVENTS_PER_COMMIT) {
          void commit();
        } else if (!scheduled) {
          scheduled = true;
          setImmediate(() => void commit());
        }
      });
    },
  };
}
