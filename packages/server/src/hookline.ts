import type { Logger } from "pino";
import type { Api } from "./api/context.ts";
import { buildApi } from "./api/server.ts";
import { bootstrap, type FirstStartKeys } from "./bootstrap.ts";
import type { Config } from "./config.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { createDispatcher } from "./delivery/dispatcher.ts";
import type { LookupAll } from "./delivery/egress-guard.ts";
import { createHttpSender } from "./delivery/http-sender.ts";
import { createListenHub } from "./delivery/listen-hub.ts";
import { HooklineError } from "./errors.ts";
import { newId } from "./ids.ts";
import { loadMasterKeys, secretBoxOf } from "./master-key.ts";
import { createMetrics } from "./metrics/metrics.ts";
import { startRetention } from "./retention.ts";
import { createGroupCommit } from "./store/group-commit.ts";
import { createPostgresStore, type PostgresStore } from "./store/postgres/postgres-store.ts";
import { resealSecrets, sealSecrets } from "./store/sealed-store.ts";
import type { SecretBox } from "./store/secret-box.ts";
import { startThreadedSqliteStore } from "./store/sqlite/threaded-store.ts";
import type { Store } from "./store/store.ts";
import { createSystemEvents } from "./system-events.ts";
import { VERSION } from "./version.ts";

export interface Hookline {
  /** The base URL the API listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly firstStart: FirstStartKeys | null;
  readonly store: Store;
  readonly api: Api;
  /** Graceful: stop taking requests and claims, finish or give back in-flight work. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts one Hookline process on its store (embedded SQLite, or PostgreSQL shared by
 * many nodes): the API, the delivery workers (the dispatcher), or both (`role`).
 */
export async function startHookline(
  config: Config,
  logger: Logger,
  /** Replaceable parts for tests: `resolve` answers every hostname lookup (endpoint checks and deliveries). */
  seams: { resolve?: LookupAll } = {},
  /**
   * Called with the keys a first start made, as soon as they are stored and before the port is
   * bound: shown then, they are not lost should the start fail after (the port in use).
   */
  onFirstStart: (keys: FirstStartKeys) => void = () => {},
): Promise<Hookline> {
  const now = Date.now;
  // One process per embedded store: a second server (or a key rotation) would break it.
  const releaseDataDir = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  let box: SecretBox;
  let postgres: PostgresStore | null;
  let rawStore: Store;
  try {
    box = secretBoxOf(loadMasterKeys(config));
    postgres = config.databaseUrl
      ? await createPostgresStore({
          url: config.databaseUrl,
          schema: config.databaseSchema,
          poolSize: config.databasePoolSize,
        })
      : null;
    rawStore = postgres ?? (await startThreadedSqliteStore(config.dataDir));
  } catch (error) {
    releaseDataDir();
    throw error;
  }
  const store = sealSecrets(rawStore, box, (error) =>
    logger.error({ err: error }, "a claimed delivery was given back"),
  );
  const delivers = config.role !== "api";
  try {
    // Refuses a wrong master key before anything is served, and seals secrets written before encryption.
    await resealSecrets(rawStore, box, false);
    const { adminKeyHash, firstStart } = await bootstrap(store, config.adminKey, now());
    if (firstStart) onFirstStart(firstStart);
    const node = newId("node", now());
    const systemEvents = createSystemEvents({ store, config, now, logger, resolve: seams.resolve });
    await systemEvents.start();
    const metrics = createMetrics({
      role: config.role,
      version: VERSION,
      now,
      logger,
      snapshot: (at) => store.metricsSnapshot(at),
    });
    const listeners = createListenHub({ maxResponseBytes: config.maxResponseBytes });
    const sender = createHttpSender(
      {
        userAgent: `Hookline/${VERSION}`,
        attemptTimeoutMs: config.attemptTimeoutMs,
        maxResponseBytes: config.maxResponseBytes,
        allowPrivateInTest: config.allowPrivateInTest,
        egressAllowCidrs: config.egressAllowCidrs,
        resolve: seams.resolve,
      },
      listeners,
    );
    const dispatcher = createDispatcher(
      {
        concurrency: config.concurrency,
        claimBatchSize: 256,
        leaseMs: config.leaseMs,
        attemptTimeoutMs: config.attemptTimeoutMs,
        maxInFlightPerEndpoint: config.maxInFlightPerEndpoint,
        retrySchedule: config.retrySchedule,
        disableEndpointAfterMs: config.disableEndpointAfterMs,
        keepResponseSnippets: config.keepResponseSnippets,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        node,
        listenersOnly: !delivers,
      },
      {
        store,
        sender,
        logger: logger.child({ component: "dispatcher" }),
        metrics,
        onDisabled: (disabled) => {
          metrics.endpointsDisabled(disabled.length);
          systemEvents.endpointsDisabled(disabled).then(wake, (error) => {
            logger.error({ err: error, disabled }, "could not record the endpoint.disabled system events");
          });
        },
      },
    );
    // A node serving only the API delivers to the `hookline listen` sockets it holds, and
    // only once it holds one; the database's notifications wake the workers for the rest.
    const wake = delivers
      ? dispatcher.wake
      : () => {
          if (listeners.endpointIds().length === 0) return;
          dispatcher.start();
          dispatcher.wake();
        };
    metrics.readInFlightFrom(dispatcher.inFlight);
    const ingest = createGroupCommit(store, {
      now,
      lease: delivers ? dispatcher.lease : () => null,
      onDue: wake,
      metrics,
      onError: (error) => logger.error({ err: error }, "ingest failed after its commit; its requests were answered"),
    });
    const api = buildApi(
      {
        config,
        store,
        adminKeyHash,
        ingest,
        dispatcher: { wake, forget: dispatcher.forget },
        listeners,
        metrics,
        node,
        now,
        resolve: seams.resolve,
      },
      logger,
      config.role === "worker" ? "health" : "all",
    );
    try {
      await api.listen({ host: config.host, port: config.port });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === "EADDRINUSE" ? "the port is already in use" : (error as Error).message;
      throw new HooklineError("listen_failed", `cannot listen on ${config.host}:${config.port}: ${reason}`, {
        cause: error,
      });
    }
    // Other nodes' new work arrives as a notification (PostgreSQL); this node's own wakes it directly.
    const unwatch = postgres ? postgres.watchDue(wake) : () => {};
    if (delivers) dispatcher.start();
    const retention = delivers ? startRetention({ store, config, now, logger }) : null;
    const address = api.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;

    let stopped: Promise<void> | null = null;
    async function stop() {
      unwatch();
      systemEvents.stop();
      await retention?.stop();
      listeners.shutdown();
      await api.close();
      await dispatcher.stop();
      await sender.close();
      await store.close();
      releaseDataDir();
    }
    return {
      url: `http://${host}:${port}`,
      firstStart,
      store,
      api,
      stop: () => {
        stopped ??= stop();
        return stopped;
      },
    };
  } catch (error) {
    await store.close();
    releaseDataDir();
    throw error;
  }
}
