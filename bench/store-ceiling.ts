import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashKey } from "../packages/server/src/ids.ts";
import { createSqliteStore } from "../packages/server/src/store/sqlite/sqlite-store.ts";
import { endpointInput } from "../packages/server/test/helpers/store-kit.ts";
import { dataOf, eventJson } from "./payloads.ts";

/**
 * The embedded store's own ingest limit, without HTTP: `store.ingest` called in a
 * loop on one thread with batches of 1 KiB events, committed with synchronous=FULL
 * as the server does. With 0 endpoints (as in S1/S2) it is what ingest can reach at
 * best on this disk and CPU with this schema; with 1, every event also makes a delivery.
 *
 *   npx node bench/store-ceiling.ts [events=200000] [per commit=1000] [endpoints=0]
 */
const total = Number(process.argv[2] ?? 200_000);
const perCommit = Number(process.argv[3] ?? 1000);
const endpoints = Number(process.argv[4] ?? 0);
const dir = mkdtempSync(join(tmpdir(), "hookline-store-ceiling-"));
const store = createSqliteStore(dir);
try {
  const now = Date.now();
  const account = await store.createAccount("ceiling", { test: hashKey("t"), live: hashKey("l") }, now);
  const scope = { accountId: account.id, environment: "test" as const };
  const endpoint = endpointInput("http://127.0.0.1:9/");
  for (let i = 0; i < endpoints; i++) await store.createEndpoint(scope, endpoint, now);
  const data = dataOf(eventJson(0));
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let sent = 0; sent < total; sent += perCommit) {
    const events = Array.from({ length: perCommit }, () => ({
      type: "bench.event",
      dataJson: data,
      idempotencyKey: null,
    }));
    const { results } = await store.ingest([{ scope, events }], Date.now());
    if (!results[0]?.ok) throw new Error("ingest failed");
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  console.log(
    JSON.stringify({
      events: total,
      perCommit,
      endpoints,
      eventsPerS: Math.round(total / seconds),
      cpuPercentOfCore: Math.round(((used.user + used.system) / 1e6 / seconds) * 100),
    }),
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
