import { parentPort, workerData } from "node:worker_threads";
import type { Store } from "../store.ts";
import { createSqliteStore } from "./sqlite-store.ts";
import { type Reply, type Request, toWire } from "./thread-protocol.ts";

// The embedded store's own thread: node:sqlite is synchronous, so commits (and
// their fsync) run here instead of blocking the HTTP event loop.

const port = parentPort;
if (!port) throw new Error("store-worker.ts runs only as a worker thread");

let store: Store;
try {
  store = createSqliteStore(workerData.dataDir as string);
  port.postMessage({ id: 0, result: "ready" } satisfies Reply);
} catch (error) {
  port.postMessage({ id: 0, error: toWire(error) } satisfies Reply);
  process.exit(1);
}

port.on("message", async ({ id, method, args }: Request) => {
  try {
    const call = store[method] as (...a: unknown[]) => Promise<unknown>;
    const result = await call(...args);
    port.postMessage({ id, result: method === "ingest" ? wireIngest(result) : result } satisfies Reply);
  } catch (error) {
    port.postMessage({ id, error: toWire(error) } satisfies Reply);
  }
  if (method === "close") port.close();
});

/** Ingest results carry per-request errors, which must cross the thread boundary as data. */
function wireIngest(results: unknown) {
  return (results as Awaited<ReturnType<Store["ingest"]>>).map((result) =>
    result.ok ? result : { ok: false, error: toWire(result.error) },
  );
}
