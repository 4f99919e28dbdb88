import type { TestContext } from "node:test";
import { type Logger, pino } from "pino";
import { createDispatcher } from "../../src/delivery/dispatcher.ts";
import { createHttpSender, type HttpSender } from "../../src/delivery/http-sender.ts";
import { createListenHub } from "../../src/delivery/listen-hub.ts";
import { hashKey } from "../../src/ids.ts";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { Store } from "../../src/store/store.ts";
import { tempDir } from "./hookline.ts";
import { type Respond, startReceiver } from "./receiver.ts";

/**
 * What a dispatcher test starts from: an embedded store in a temporary directory with one
 * account (its TEST scope), and a loopback receiver answering with `respond`; all closed
 * and removed after the test.
 */
export async function storeAndReceiver(t: TestContext, respond?: Respond) {
  const dir = tempDir();
  const receiver = await startReceiver(respond);
  const store = createSqliteStore(dir.path);
  t.after(async () => {
    await store.close();
    await receiver.close();
    dir.remove();
  });
  const account = await store.createAccount("a", { test: hashKey("t"), live: hashKey("l") }, Date.now());
  return { store, receiver, scope: { accountId: account.id, environment: "test" as const } };
}

/** A loopback HTTP sender with a 5 s timeout, as `testDispatcher` uses. */
export function testSender(): HttpSender {
  return createHttpSender(
    {
      userAgent: "Hookline/test",
      attemptTimeoutMs: 5_000,
      maxResponseBytes: 4096,
      allowPrivateInTest: true,
      egressAllowCidrs: [],
    },
    createListenHub({ maxResponseBytes: 4096 }),
  );
}

/** A dispatcher on `store` alone (no HTTP API), sending to loopback receivers with a 5 s timeout. */
export function testDispatcher(
  store: Store,
  logger: Logger = pino({ level: "silent" }),
  sender: HttpSender = testSender(),
) {
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
      sender,
      logger,
    },
  );
}
