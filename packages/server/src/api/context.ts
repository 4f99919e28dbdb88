import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { Config } from "../config.ts";
import type { LookupAll } from "../delivery/egress-guard.ts";
import type { ListenHub } from "../delivery/listen-hub.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { GroupCommit } from "../store/group-commit.ts";
import type { Delivery, Endpoint, Scope, Store } from "../store/store.ts";
import { deliveryJson } from "./serialize.ts";

/** What every route module gets: the parts it may use, nothing global. */
export interface ApiContext {
  config: Config;
  store: Store;
  /** SHA-256 of the admin key. */
  adminKeyHash: string;
  ingest: GroupCommit;
  dispatcher: {
    /** Something became due now. */
    wake(): void;
    /** An endpoint changed: claims for it that have not started must be taken again. */
    forget(endpointId: string): void;
  };
  /** Connected `hookline listen` sessions. */
  listeners: ListenHub;
  /** This instance's metrics, served at /metrics. */
  metrics: Metrics;
  /** This process's id, as the holder of the listen endpoints whose sockets it has. */
  node: string;
  now: () => number;
  /** Resolver for endpoint URL checks; the system resolver when absent (tests inject answers). */
  resolve?: LookupAll | undefined;
}

export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** `?limit=` as a number: default 50, at most 250; an empty `?after=` is the first page, as no `after`. */
export function pageOf(query: { limit?: string | undefined; after?: string | undefined }) {
  const limit = Math.min(Math.max(Number(query.limit ?? 50), 1), 250);
  // One extra row tells whether there is a next page.
  return { limit, fetch: { limit: limit + 1, after: query.after || undefined } };
}

/** Deliveries as JSON, each with the length of its endpoint's schedule (the deployment's for a deleted endpoint). */
export async function deliveriesJson({ store, config }: ApiContext, scope: Scope, deliveries: Delivery[]) {
  // Ten at a time: a page fanned out to 250 endpoints waits for 25 rounds of reads, not 250 in turn,
  // and puts no more than ten reads ahead of the dispatcher's in a PostgreSQL pool.
  const endpointIds = [...new Set(deliveries.map((delivery) => delivery.endpointId))];
  const endpoints: (Endpoint | null)[] = [];
  for (let i = 0; i < endpointIds.length; i += 10) {
    const ids = endpointIds.slice(i, i + 10);
    endpoints.push(...(await Promise.all(ids.map((endpointId) => store.getEndpoint(scope, endpointId)))));
  }
  const scheduleLengths = new Map(
    endpointIds.map((endpointId, i) => [endpointId, (endpoints[i]?.retrySchedule ?? config.retrySchedule).length + 1]),
  );
  return deliveries.map((delivery) => deliveryJson(delivery, scheduleLengths.get(delivery.endpointId) ?? 1));
}
