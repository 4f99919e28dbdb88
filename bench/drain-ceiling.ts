import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashKey } from "../packages/server/src/ids.ts";
import { createSqliteStore } from "../packages/server/src/store/sqlite/sqlite-store.ts";
import type { Claim, Outcome } from "../packages/server/src/store/store.ts";
import { attemptOutcome, claimRequest, endpointInput } from "../packages/server/test/helpers/store-kit.ts";
import { dataOf, eventJson } from "./payloads.ts";

/**
 * The embedded store's own drain limit, without HTTP: what S3's store thread does,
 * on one thread. It queues `deliveries` for one endpoint, then loops `store.settle`:
 * each call records the outcomes (a 204 each) of the claims the previous call
 * returned and claims up to `per commit` more, committed with synchronous=FULL.
 * Reports deliveries/s and CPU µs per delivery: the store's share of S3's cost (S3 runs
 * it too, for its CPU budget).
 *
 *   npx node bench/drain-ceiling.ts [deliveries=40000] [per commit=30]
 */
export interface DrainCeiling {
  deliveries: number;
  perCommit: number;
  deliveriesPerS: number;
  cpuPercentOfCore: number;
  cpuMicrosPerDelivery: number;
}

export async function measureDrainCeiling(total: number, perCommit: number): Promise<DrainCeiling> {
  const dir = mkdtempSync(join(tmpdir(), "hookline-drain-ceiling-"));
  const store = createSqliteStore(dir);
  try {
    const created = Date.now();
    const account = await store.createAccount("ceiling", { test: hashKey("t"), live: hashKey("l") }, created);
    const scope = { accountId: account.id, environment: "test" as const };
    await store.createEndpoint(scope, endpointInput("http://127.0.0.1:9/", { maxInFlight: 1000 }), created);
    const data = dataOf(eventJson(0));
    for (let queued = 0; queued < total; queued += 1000) {
      const events = Array.from({ length: Math.min(1000, total - queued) }, () => ({
        type: "bench.event",
        dataJson: data,
        idempotencyKey: null,
      }));
      await store.ingest([{ scope, events }], Date.now(), null);
    }

    const cpu = process.cpuUsage();
    const started = performance.now();
    let claims: Claim[] = [];
    let delivered = 0;
    do {
      const now = Date.now();
      const outcomes = claims.map((claim) => succeeded(claim, now));
      delivered += outcomes.length;
      ({ claims } = await store.settle(outcomes, claimRequest(now, perCommit, { defaultMaxInFlight: 1000 }), now));
    } while (claims.length > 0);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    return {
      deliveries: delivered,
      perCommit,
      deliveriesPerS: Math.round(delivered / seconds),
      cpuPercentOfCore: Math.round(((used.user + used.system) / 1e6 / seconds) * 100),
      cpuMicrosPerDelivery: Math.round((used.user + used.system) / delivered),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const total = Number(process.argv[2] ?? 40_000);
  const perCommit = Number(process.argv[3] ?? 30);
  console.log(JSON.stringify(await measureDrainCeiling(total, perCommit)));
}

/** A 204 on the first attempt, with the headers a real attempt records. */
function succeeded(claim: Claim, now: number): Outcome {
  return attemptOutcome(claim, 204, null, now, {
    "content-type": "application/json",
    "webhook-id": claim.eventId,
    "webhook-timestamp": String(Math.floor(now / 1000)),
    "webhook-signature": `v1,${"A".repeat(43)}=`,
  });
}
