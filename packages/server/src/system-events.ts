import type { Logger } from "pino";
import { createAccountWithKeys } from "./api/routes/accounts.ts";
import type { Config } from "./config.ts";
import { type LookupAll, urlRejection } from "./delivery/egress-guard.ts";
import { newSigningSecret } from "./ids.ts";
import type { DisabledEndpoint, Scope, Store } from "./store/store.ts";

/** The name of the account that holds the operator's own events. */
export const SYSTEM_ACCOUNT_NAME = "Hookline system events";
const SYSTEM_ACCOUNT_SETTING = "system_account_id";
/** Marks the endpoint Hookline keeps at `system_events_url`. */
const SYSTEM_ENDPOINT_DESCRIPTION = "system_events_url (kept by Hookline from its configuration)";

/** How often the notices a stopped process left behind are looked for. */
const SWEEP_MS = 60_000;

export interface SystemEvents {
  /**
   * Points the system account's endpoint at `system_events_url` (when configured), records
   * the notices left pending, and from then on looks for more every minute.
   */
  start(): Promise<void>;
  /** Records `endpoint.disabled` for each endpoint and clears its pending notice. */
  endpointsDisabled(disabled: DisabledEndpoint[]): Promise<void>;
  stop(): void;
}

/**
 * The operator's own events, sent like every other webhook: they are events of the LIVE
 * environment of an account of their own ("Hookline system events", made when first needed),
 * so they are signed, retried and logged, and the dashboard shows them in that account. With
 * `system_events_url`, that account has an endpoint at that URL, kept in step with the config.
 */
export function createSystemEvents(deps: {
  store: Store;
  config: Config;
  now: () => number;
  logger: Logger;
  resolve?: LookupAll | undefined;
}): SystemEvents {
  const { store, config, now, logger } = deps;
  let sweeper: NodeJS.Timeout | null = null;

  async function systemScope(): Promise<Scope> {
    let accountId = await store.getSetting(SYSTEM_ACCOUNT_SETTING);
    if (accountId === null) {
      const { account } = await createAccountWithKeys(store, SYSTEM_ACCOUNT_NAME, now());
      // Two nodes making it at once: the first one's stays, the other's is left unused.
      if (!(await store.addSetting(SYSTEM_ACCOUNT_SETTING, account.id))) {
        accountId = await store.getSetting(SYSTEM_ACCOUNT_SETTING);
      } else accountId = account.id;
    }
    return { accountId: accountId as string, environment: "live" };
  }

  async function endpointsDisabled(disabled: DisabledEndpoint[]) {
    const scope = await systemScope();
    const events = disabled.map((endpoint) => ({
      type: "endpoint.disabled",
      dataJson: JSON.stringify({
        endpoint_id: endpoint.endpointId,
        account_id: endpoint.accountId,
        environment: endpoint.environment,
        url: endpoint.url,
        reason: endpoint.reason,
        failing_since: endpoint.failingSince === null ? null : new Date(endpoint.failingSince).toISOString(),
        disabled_at: new Date(endpoint.at).toISOString(),
      }),
      // Recorded twice (by this process and a sweep), it is still one event.
      idempotencyKey: `endpoint.disabled:${endpoint.endpointId}:${endpoint.at}`,
    }));
    const { results } = await store.ingest([{ scope, events }], now());
    const [result] = results;
    if (result && !result.ok) throw result.error;
    await store.clearDisabledNotices(disabled);
  }

  /** Records what is pending: notices of a process that stopped before recording them. */
  async function sweep() {
    for (;;) {
      const pending = await store.pendingDisabledNotices(100);
      if (pending.length === 0) return;
      await endpointsDisabled(pending);
    }
  }

  /** The endpoints Hookline keeps at `system_events_url`: one, unless nodes made theirs at once. */
  async function keptEndpoints(scope: Scope) {
    const endpoints = await store.listEndpoints(scope, { limit: 250 });
    return endpoints.filter((endpoint) => endpoint.description === SYSTEM_ENDPOINT_DESCRIPTION);
  }

  /** Keeps one endpoint at `system_events_url` (or none enabled once the setting is removed). */
  async function followConfig() {
    const url = config.systemEventsUrl;
    if (url === null) {
      if ((await store.getSetting(SYSTEM_ACCOUNT_SETTING)) === null) return;
      const scope = await systemScope();
      for (const endpoint of await keptEndpoints(scope)) {
        if (endpoint.enabled) await store.updateEndpoint(scope, endpoint.id, { enabled: false }, now());
      }
      return;
    }
    const scope = await systemScope();
    const rejected = await urlRejection(
      url,
      { environment: "live", allowPrivateInTest: false, allowCidrs: config.egressAllowCidrs },
      deps.resolve,
    );
    if (rejected) {
      logger.warn(`system_events_url: ${rejected}; add its address to egress_allow_cidrs to receive system events`);
    }
    const fields = { url, enabled: true, eventTypes: null };
    let [current] = await keptEndpoints(scope);
    if (!current) {
      await store.createEndpoint(
        scope,
        {
          ...fields,
          description: SYSTEM_ENDPOINT_DESCRIPTION,
          rateLimitPerS: null,
          maxInFlight: null,
          retrySchedule: null,
          secret: newSigningSecret(),
        },
        now(),
      );
      // Nodes starting together may each have made one: all keep the oldest.
      const [oldest, ...extra] = await keptEndpoints(scope);
      for (const endpoint of extra) await store.deleteEndpoint(scope, endpoint.id, now());
      current = oldest;
    }
    if (current && (current.url !== url || !current.enabled)) {
      await store.updateEndpoint(scope, current.id, fields, now());
    }
  }

  return {
    async start() {
      await followConfig();
      await sweep();
      sweeper = setInterval(() => {
        sweep().catch((error) => logger.error({ err: error }, "could not record pending endpoint.disabled events"));
      }, SWEEP_MS);
      sweeper.unref();
    },
    endpointsDisabled,
    stop() {
      if (sweeper) clearInterval(sweeper);
    },
  };
}
