import type { Logger } from "pino";
import type { Config } from "./config.ts";
import { firstIdAt } from "./ids.ts";
import type { Store } from "./store/store.ts";

/** Events purged per transaction: small, so claims and ingest never wait long behind one. */
const BATCH = 500;

/**
 * Purges events older than `retention` (with their deliveries and attempts) once none of
 * their deliveries is pending, in small batches on the delivering nodes, every quarter of the
 * retention period (at most every minute). A pass stops after a while and goes on next time.
 */
export function startRetention(deps: { store: Store; config: Config; now: () => number; logger: Logger }) {
  const { store, config, now, logger } = deps;
  const intervalMs = Math.min(60_000, Math.max(1_000, Math.floor(config.retentionMs / 4)));
  let stopped = false;
  let running: Promise<void> | null = null;

  async function pass() {
    const started = now();
    const before = firstIdAt("evt", started - config.retentionMs);
    let after: string | null = null;
    let purged = 0;
    do {
      const batch = await store.purgeEvents(after, before, BATCH);
      purged += batch.purged;
      after = batch.last;
      // Other work goes first between batches.
      await new Promise((resolve) => setImmediate(resolve));
    } while (after !== null && !stopped && now() - started < intervalMs);
    if (purged > 0) logger.info({ purged, retentionMs: config.retentionMs }, "purged old events");
  }

  const timer = setInterval(() => {
    if (running) return;
    running = pass()
      .catch((error) => logger.error({ err: error }, "purging old events failed; trying again later"))
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  timer.unref();

  return {
    /** Stops the timer and waits for a pass in progress. */
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
