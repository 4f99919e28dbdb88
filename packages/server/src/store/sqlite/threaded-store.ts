import { Worker } from "node:worker_threads";
import { HooklineError } from "../../errors.ts";
import type { Ingested, Store } from "../store.ts";
import { fromWire, type Reply, STORE_METHODS, type WireError } from "./thread-protocol.ts";

/**
 * The embedded store on its own thread. Same interface as the in-thread store;
 * every call is a message, so the HTTP event loop never waits for a commit's
 * fsync, and writes sent close together share one commit.
 */
export async function startThreadedSqliteStore(dataDir: string): Promise<Store> {
  const worker = new Worker(new URL("./store-worker.ts", import.meta.url), { workerData: { dataDir } });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let failure: HooklineError | null = null;

  const failAll = (error: HooklineError) => {
    failure ??= error;
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };

  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, { resolve: () => resolve(), reject });
  });
  worker.on("message", (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error) waiter.reject(fromWire(reply.error as WireError));
    else waiter.resolve(reply.result);
  });
  worker.on("error", (error) => failAll(unavailable(error)));
  worker.on("exit", (code) => failAll(unavailable(new Error(`the store thread exited with code ${code}`))));
  await ready;

  function call(method: keyof Store, args: unknown[]): Promise<unknown> {
    if (failure) return Promise.reject(failure);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    });
  }

  const store = Object.fromEntries(
    (Object.keys(STORE_METHODS) as (keyof typeof STORE_METHODS)[]).map((method) => [
      method,
      (...args: unknown[]) => call(method, args),
    ]),
  ) as Omit<Store, "close" | "ingest">;
  return {
    ...store,
    async ingest(requests, now, lease) {
      const { results, claims } = (await call("ingest", [requests, now, lease])) as Ingested;
      const errorsRevived = results.map((result) =>
        result.ok ? result : { ok: false as const, error: fromWire(result.error as unknown as WireError) },
      );
      return { results: errorsRevived, claims };
    },
    async close() {
      if (failure) return;
      await call("close", []);
      await worker.terminate();
    },
  };
}

function unavailable(cause: Error) {
  return new HooklineError("store_unavailable", `the store is unavailable: ${cause.message}`, { status: 503, cause });
}
