import { Worker } from "node:worker_threads";
import { HooklineError } from "../../errors.ts";
import type { IngestResult, Store } from "../store.ts";
import { fromWire, type Reply, type WireError } from "./thread-protocol.ts";

/** Every Store method forwarded as is; the type makes a new Store method fail to compile until listed. */
const FORWARDED: Record<Exclude<keyof Store, "close" | "ingest">, true> = {
  getSetting: true,
  setSetting: true,
  createAccount: true,
  listAccounts: true,
  getAccount: true,
  findKey: true,
  createEndpoint: true,
  getEndpoint: true,
  listEndpoints: true,
  updateEndpoint: true,
  deleteEndpoint: true,
  rotateSecret: true,
  recoverEndpoint: true,
  getEvent: true,
  listEvents: true,
  getDelivery: true,
  listDeliveries: true,
  listAttempts: true,
  requestRetry: true,
  settle: true,
  releaseClaims: true,
  nextDueAt: true,
};

/**
 * The embedded store on its own thread. Same interface as the in-thread store;
 * every call is a message, answered in order, so the HTTP event loop never
 * waits for a commit's fsync.
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
    (Object.keys(FORWARDED) as (keyof typeof FORWARDED)[]).map((method) => [
      method,
      (...args: unknown[]) => call(method, args),
    ]),
  ) as Omit<Store, "close" | "ingest">;
  return {
    ...store,
    async ingest(requests, now) {
      const results = (await call("ingest", [requests, now])) as (IngestResult | { ok: false; error: WireError })[];
      return results.map((result) => (result.ok ? result : { ok: false, error: fromWire(result.error as WireError) }));
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
