import { type Logger, pino } from "pino";
import { createDispatcher } from "../../src/delivery/dispatcher.ts";
import { createHttpSender } from "../../src/delivery/http-sender.ts";
import { createListenHub } from "../../src/delivery/listen-hub.ts";
import type { Store } from "../../src/store/store.ts";

/** A dispatcher on `store` alone (no HTTP API), sending to loopback receivers with a 5 s timeout. */
export function testDispatcher(store: Store, logger: Logger = pino({ level: "silent" })) {
  return createDispatcher(
    {
      concurrency: 16,
      claimBatchSize: 16,
      leaseMs: 60_000,
      attemptTimeoutMs: 5_000,
      maxInFlightPerEndpoint: 4,
      retrySchedule: [60_000],
      disableEndpointAfterMs: 86_400_000,
      keepResponseSnippets: 10,
      shutdownTimeoutMs: 1_000,
      node: "node_test",
      listenersOnly: false,
    },
    {
      store,
      sender: createHttpSender(
        {
          userAgent: "Hookline/test",
          attemptTimeoutMs: 5_000,
          maxResponseBytes: 4096,
          allowPrivateInTest: true,
          egressAllowCidrs: [],
        },
        createListenHub({ maxResponseBytes: 4096 }),
      ),
      logger,
    },
  );
}
