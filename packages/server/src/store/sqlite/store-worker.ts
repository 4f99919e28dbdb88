import { parentPort, workerData } from "node:worker_threads";
import type { Ingested, Store } from "../store.ts";
import { createSqliteStore, type SqliteStore } from "./sqlite-store.ts";
import { type Reply, type Request, STORE_METHODS, toWire } from "./thread-protocol.ts";

// The embedded store's own thread: node:sqlite is synchronous, so commits (and
// their fsync) run here instead of blocking the HTTP event loop.

const port = parentPort;
if (!port) throw new Error("store-worker.ts runs only as a worker thread");

let store: SqliteStore;
try {
  store = createSqliteStore(workerData.dataDir as string);
  port.postMessage({ id: 0, result: "ready" } satisfies Reply);
} catch (error) {
  port.postMessage({ id: 0, error: toWire(error) } satisfies Reply);
  process.exit(1);
}

/**
 * Writes that arrived during the same turn (typically while the last commit's
 * fsync held the thread): ingest, the dispatcher's outcomes and claims, API
 * changes. They go to disk under one commit, so a busy server pays one fsync
 * for all of them instead of one each.
 */
let writes: Request[] = [];
let flushing: Promise<void> | null = null;
let closed = false;

port.on("message", (request: Request) => {
  if (request.method === "close") {
    void close(request.id);
    return;
  }
  if (STORE_METHODS[request.method] === "read") {
    void answer(request.id, () => invoke(request));
    return;
  }
  writes.push(request);
  if (writes.length === 1) setImmediate(() => void flush());
});

async function flush() {
  const batch = writes;
  writes = [];
  if (batch.length === 0) return;
  if (closed) {
    for (const request of batch) post(request.id, { error: toWire(new Error("the store is closed")) });
    return;
  }
  flushing = (async () => {
    try {
      const results = await store.commitTogether(batch.map((request) => () => invoke(request)));
      for (const [i, request] of batch.entries()) {
        const result = results[i];
        if (!result) continue;
        post(
          request.id,
          result.ok ? { result: wireResult(request.method, result.value) } : { error: toWire(result.error) },
        );
      }
    } catch (error) {
      // Nothing was committed: every caller hears so, and the thread carries on.
      for (const request of batch) post(request.id, { error: toWire(error) });
    }
  })();
  await flushing;
  flushing = null;
}

function invoke({ method, args }: Request): Promise<unknown> {
  return (store[method] as (...a: unknown[]) => Promise<unknown>)(...args);
}

async function answer(id: number, work: () => Promise<unknown>) {
  try {
    post(id, { result: await work() });
  } catch (error) {
    post(id, { error: toWire(error) });
  }
}

async function close(id: number) {
  while (flushing || writes.length > 0) await (flushing ?? flush());
  closed = true;
  await answer(id, () => store.close());
  port?.close();
}

function post(id: number, reply: { result: unknown } | { error: ReturnType<typeof toWire> }) {
  port?.postMessage({ id, ...reply } as Reply);
}

/** Ingest results carry per-request errors, which must cross the thread boundary as data. */
function wireResult(method: keyof Store, result: unknown) {
  if (method !== "ingest") return result;
  const { results, claims } = result as Ingested;
  return { results: results.map((item) => (item.ok ? item : { ok: false, error: toWire(item.error) })), claims };
}
