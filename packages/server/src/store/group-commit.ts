import type { Lease } from "../delivery/dispatcher.ts";
import { HooklineError } from "../errors.ts";
import type { Ingested, IngestRequest, IngestResult, Store } from "./store.ts";

/** The most events one store call takes; the rest go in the next. */
const MAX_EVENTS_PER_CALL = 5000;

export interface GroupCommit {
  /** Resolves once the request's events and deliveries are durable. */
  submit(request: IngestRequest): Promise<IngestResult>;
}

export interface GroupCommitDeps {
  now: () => number;
  /** An offer to lease new deliveries to this process in the commit (null: leave them due). */
  lease: () => Lease | null;
  /** After a commit that left deliveries due (not leased): time to claim. */
  onDue: () => void;
  metrics?: IngestMetrics;
  /** A failure after a commit (a bug): reported, while the requests get their answers. */
  onError: (error: unknown) => void;
}

/** What ingest reports: each commit, what each request committed, and failed commits. */
export interface IngestMetrics {
  /** A store call committed: how long its requests waited for it, and how many events it held. */
  committed(seconds: number, events: number): void;
  ingested(request: IngestRequest, result: IngestResult): void;
  storeFailed(operation: "ingest"): void;
}

/**
 * Group commit for ingest: the requests that arrive during one turn of the event
 * loop go to the store as one call, and the store thread commits every write
 * that reaches it during a commit together in the next, so many 202s share one
 * fsync and none is weakened.
 */
export function createGroupCommit(store: Store, deps: GroupCommitDeps): GroupCommit {
  const queue: { request: IngestRequest; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;

  function kick() {
    if (scheduled || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      while (queue.length > 0) void commit();
    });
  }

  async function commit() {
    let events = 0;
    let count = 0;
    while (count < queue.length && events < MAX_EVENTS_PER_CALL)
      events += (queue[count++] as (typeof queue)[0]).request.events.length;
    const batch = queue.splice(0, count);
    const lease = deps.lease();
    const started = performance.now();
    let ingested: Ingested;
    try {
      ingested = await store.ingest(
        batch.map((item) => item.request),
        deps.now(),
        lease?.request ?? null,
      );
    } catch (error) {
      lease?.settle([]);
      deps.metrics?.storeFailed("ingest");
      const failure = new HooklineError("store_unavailable", "the event store could not commit; nothing was accepted", {
        status: 503,
        cause: error,
        headers: { "retry-after": "1" },
      });
      for (const item of batch) item.reject(failure);
      return;
    }
    // Committed: every request gets its result first, and nothing after may answer otherwise.
    const { results, claims } = ingested;
    for (const [i, item] of batch.entries()) item.resolve(results[i] as IngestResult);
    try {
      lease?.settle(claims);
      deps.metrics?.committed((performance.now() - started) / 1000, events);
      for (const [i, item] of batch.entries()) deps.metrics?.ingested(item.request, results[i] as IngestResult);
      const deliveries = results.reduce((sum, result) => sum + (result.ok ? result.deliveries : 0), 0);
      if (deliveries > claims.length) deps.onDue();
    } catch (error) {
      deps.onError(error);
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
