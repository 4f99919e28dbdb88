import type { HooklineError } from "../errors.ts";

export type Environment = "test" | "live";
export const ENVIRONMENTS: readonly Environment[] = ["test", "live"];

/** What an account key may touch: one account, one environment. */
export interface Scope {
  readonly accountId: string;
  readonly environment: Environment;
}

export interface Page {
  limit: number;
  after?: string | undefined;
}

export interface Account {
  id: string;
  name: string;
  createdAt: number;
}

/** What a listen endpoint shows as its URL: its deliveries go to `hookline listen`, not to an address. */
export const LISTEN_URL = "hookline:listen";

/** The reason an endpoint shows when a user disabled it. */
export const DISABLED_BY_REQUEST = "disabled by request";

/** Where an endpoint's deliveries go: an HTTP URL, or a developer's `hookline listen` session. */
export type EndpointKind = "http" | "listen";

export interface Endpoint {
  id: string;
  accountId: string;
  environment: Environment;
  kind: EndpointKind;
  url: string;
  description: string;
  /** null means every event type. */
  eventTypes: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  rateLimitPerS: number | null;
  maxInFlight: number | null;
  /** Delays between attempts in ms; null means the deployment's default. */
  retrySchedule: number[] | null;
  createdAt: number;
  updatedAt: number;
}

/** An endpoint's secrets as stored. */
export interface EndpointSecrets {
  id: string;
  secret: string;
  previousSecret: string | null;
}

export type NewEndpoint = Pick<
  Endpoint,
  "url" | "description" | "eventTypes" | "rateLimitPerS" | "maxInFlight" | "retrySchedule" | "secret"
> & {
  /** Created disabled when false (default true). */
  enabled?: boolean;
};

export type EndpointPatch = Partial<
  Pick<Endpoint, "url" | "description" | "eventTypes" | "rateLimitPerS" | "maxInFlight" | "retrySchedule" | "enabled">
>;

export interface EventRecord {
  id: string;
  accountId: string;
  environment: Environment;
  type: string;
  /** The exact JSON bytes sent to receivers on every attempt. */
  body: string;
  idempotencyKey: string | null;
  createdAt: number;
}

export interface EventFilter {
  type?: string | undefined;
  /** Only events with at least one delivery in this status. */
  deliveryStatus?: DeliveryStatus | undefined;
  since?: number | undefined;
  until?: number | undefined;
}

/**
 * A page of events, newest first. A delivery-status filter looks at a bounded
 * number of events per call; when it ran out of them before filling the page,
 * `resumeBefore` says where the next page starts (the page may then be short).
 */
export interface EventList {
  events: EventRecord[];
  resumeBefore: string | null;
}

/** How many events one delivery-status-filtered list call examines at most. */
export const STATUS_FILTER_SCAN = 5000;

export type DeliveryStatus = "pending" | "delivering" | "succeeded" | "failed" | "cancelled";

export interface Delivery {
  id: string;
  eventId: string;
  endpointId: string;
  status: DeliveryStatus;
  attemptCount: number;
  /** Attempts of the schedule made so far (manual retries do not count). */
  scheduledAttempts: number;
  nextAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export type AttemptError =
  | "timeout"
  | "connect"
  | "dns"
  | "blocked"
  | "tls"
  | "reset"
  | "too_large"
  /** A listen endpoint with no `hookline listen` connected. */
  | "listener_offline";

export interface Attempt {
  id: string;
  deliveryId: string;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: AttemptError | null;
  responseSnippet: string | null;
  requestHeaders: Record<string, string>;
  trigger: "scheduled" | "manual";
}

export interface NewEvent {
  type: string;
  /** `data` already serialised to JSON, so it is stringified once. */
  dataJson: string;
  idempotencyKey: string | null;
}

/** One API request's worth of events: committed together or not at all. */
export interface IngestRequest {
  scope: Scope;
  events: NewEvent[];
  /** Fan out to this endpoint only (the "send test event" action). */
  onlyEndpointId?: string;
}

export type IngestResult =
  | { ok: true; events: { event: EventRecord; replayed: boolean }[]; deliveries: number }
  | { ok: false; error: HooklineError };

/** One ingest commit: each request's result, and the new deliveries leased straight to the caller. */
export interface Ingested {
  results: IngestResult[];
  claims: Claim[];
}

/** A delivery leased to this process, with all it needs to make the attempt. */
export interface Claim {
  deliveryId: string;
  claimToken: string;
  eventId: string;
  body: string;
  endpointId: string;
  environment: Environment;
  kind: EndpointKind;
  url: string;
  secrets: string[];
  retrySchedule: number[] | null;
  maxInFlight: number | null;
  rateLimitPerS: number | null;
  /** Not to be sent before this time: later than the claim only for a rate-limited endpoint. */
  sendAt: number;
  /** Scheduled attempts made before this one. */
  scheduledAttempts: number;
  /** When the lease ends; an attempt that could outlast it is not started. */
  leaseUntil: number;
  /** The next scheduled attempt when this one is a manual retry. */
  nextAttemptAt: number | null;
  manual: boolean;
}

export interface ClaimRequest {
  now: number;
  limit: number;
  leaseMs: number;
  /** Endpoints that must not get more work now (this process holds all it may for them). */
  excludeEndpoints: readonly string[];
  /**
   * How many more claims each endpoint this process already holds claims for may
   * take (the dispatcher's policy). Any other endpoint may take up to its in-flight cap.
   */
  room: ReadonlyMap<string, number>;
  /** Claims this process holds per endpoint (running or waiting), so a shared store can tell others' apart. */
  held: ReadonlyMap<string, number>;
  defaultMaxInFlight: number;
  /**
   * The claiming process. A listen endpoint's deliveries go to the process holding its
   * listener (`openListener`); while nobody does, any process may attempt them (they fail: offline).
   */
  node: string;
  /** Claim only for listen endpoints this process holds (a node that serves the API but no workers). */
  listenersOnly: boolean;
}

/** The process holding a listen endpoint's socket, and until when (renewed while the socket is open). */
export interface ListenerHold {
  node: string;
  until: number;
}

/** What one attempt did to its delivery, written only while the claim token still holds. */
export interface Outcome {
  /** Which claim this is the outcome of (only what the write needs crosses to the store). */
  claim: Pick<Claim, "deliveryId" | "claimToken" | "endpointId">;
  attempt: Omit<Attempt, "id" | "deliveryId">;
  status: "pending" | "succeeded" | "failed";
  scheduledAttempts: number;
  nextAttemptAt: number | null;
  /** Set when the receiver asked to stop (410 Gone). */
  disableEndpoint: string | null;
  /**
   * For a failed attempt: disable the endpoint when it has failed, without a success, since
   * this time or earlier (now minus `disable_endpoint_after`); null for a success.
   */
  disableIfFailingSince: number | null;
  /** How many of the delivery's latest attempts keep their response snippet; older ones lose it. */
  keepSnippets: number;
}

/** An endpoint a settle disabled (410 Gone, or failing for too long), for the operator's system event. */
export interface DisabledEndpoint {
  endpointId: string;
  accountId: string;
  environment: Environment;
  url: string;
  reason: string;
  failingSince: number | null;
  at: number;
}

/** An event type in the catalog: what it means, the shape of its `data`, a sample. */
export interface EventTypeRecord {
  name: string;
  description: string;
  /** JSON Schema of `data`, or null when any object goes. */
  schema: Record<string, unknown> | null;
  /** Sample `data`, used by `hookline trigger`. */
  example: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** How a portal's embedding product looks: shown by the dashboard in portal sessions. */
export interface Theme {
  productName: string | null;
  accentColor: string | null;
  logoUrl: string | null;
}

/** A dashboard login: the operator's (admin), or one account's through a portal link. */
export interface Session {
  kind: "admin" | "account";
  accountId: string | null;
  /** An operator session's admin key (its hash): replacing the key ends the session. */
  adminKeyHash: string | null;
  /** Sent back by the browser in `x-csrf-token` on every change. */
  csrfToken: string;
  theme: Theme | null;
  createdAt: number;
  expiresAt: number;
}

export interface PortalLink {
  accountId: string;
  theme: Theme | null;
  expiresAt: number;
}

/** One hour of an endpoint's recorded attempts. */
export interface EndpointHour {
  hour: number;
  attempts: number;
  succeeded: number;
  durationMs: number;
}

export interface EndpointStats {
  /** Deliveries waiting for an attempt (pending or delivering); above STATS_COUNT_CAP, STATS_COUNT_CAP + 1. */
  pending: number;
  /** Deliveries whose schedule is used up; above STATS_COUNT_CAP, STATS_COUNT_CAP + 1. */
  failed: number;
  /** Hours since `since` with at least one attempt, oldest first. */
  hours: EndpointHour[];
  last: { at: number; ok: boolean; statusCode: number | null; error: string | null } | null;
}

/** Counting a huge backlog would stall the store: counts stop one past this, and the dashboard shows "10,000+". */
export const STATS_COUNT_CAP = 10_000;

/** What /metrics reads from the store on a scrape (the queue and endpoints of the whole installation). */
export interface MetricsSnapshot {
  /** Deliveries waiting for an attempt: due, scheduled for a retry, or leased; above METRICS_COUNT_CAP, the cap + 1. */
  queued: number;
  /** Of those, the ones due now or overdue and not leased (to enabled endpoints); above the cap, the cap + 1. */
  due: number;
  /** When the longest-waiting due delivery became due; null when none is due. */
  oldestDueAt: number | null;
  /** Disabled endpoints: by a user (API, dashboard), or automatically (410 Gone, failing too long); each capped. */
  disabledEndpoints: { byRequest: number; automatic: number };
}

/** Metrics counts stop one past this, so a scrape reads a bounded number of index entries. */
export const METRICS_COUNT_CAP = 100_000;

export interface Store {
  close(): Promise<void>;

  getSetting(key: string): Promise<string | null>;
  /** Stores a new session under the hash of its id (and forgets expired ones). */
  createSession(idHash: string, session: Session): Promise<void>;
  /** The live session with this id hash, or null. */
  findSession(idHash: string, now: number): Promise<Session | null>;
  deleteSession(idHash: string): Promise<void>;
  createPortalLink(tokenHash: string, link: PortalLink, now: number): Promise<void>;
  /** Uses a portal link: the first call while it is live gets it, every later one null. */
  usePortalLink(tokenHash: string, now: number): Promise<PortalLink | null>;
  /** Stores a setting unless it exists; true when this call stored it (the first of many racing nodes). */
  addSetting(key: string, value: string): Promise<boolean>;

  createAccount(name: string, keyHashes: Record<Environment, string>, now: number): Promise<Account>;
  listAccounts(page: Page): Promise<Account[]>;
  getAccount(id: string): Promise<Account | null>;
  findKey(keyHash: string): Promise<Scope | null>;

  createEndpoint(scope: Scope, endpoint: NewEndpoint, now: number): Promise<Endpoint>;
  getEndpoint(scope: Scope, id: string): Promise<Endpoint | null>;
  listEndpoints(scope: Scope, page: Page): Promise<Endpoint[]>;
  /** How many endpoints with a URL (not the listen endpoint) the scope has. */
  countEndpoints(scope: Scope): Promise<number>;
  updateEndpoint(scope: Scope, id: string, patch: EndpointPatch, now: number): Promise<Endpoint | null>;
  deleteEndpoint(scope: Scope, id: string, now: number): Promise<boolean>;
  rotateSecret(
    scope: Scope,
    id: string,
    secret: string,
    previousExpiresAt: number,
    now: number,
  ): Promise<Endpoint | null>;
  /**
   * A `hookline listen` session connects: the scope's listen endpoint, created with
   * `secret` the first time (it keeps that secret across sessions), now enabled with
   * this event filter and held by `hold.node`; its pending deliveries become due now.
   */
  openListener(
    scope: Scope,
    eventTypes: string[] | null,
    secret: string,
    hold: ListenerHold,
    now: number,
  ): Promise<Endpoint>;
  /**
   * Renews this node's hold on its listen endpoints, taking back one nobody holds (released or
   * run out); one another node holds now stays with that node.
   */
  holdListeners(endpointIds: string[], hold: ListenerHold, now: number): Promise<void>;
  /** This node's last socket for the listen endpoint closed: any node may attempt its deliveries again. */
  releaseListener(endpointId: string, node: string): Promise<void>;
  /**
   * Stored secrets (as stored: sealed) of the endpoints with one not sealed under master key
   * `notSealedWith`, in id order, `limit` after the id `after`.
   */
  listEndpointSecrets(after: string | null, limit: number, notSealedWith: string): Promise<EndpointSecrets[]>;
  /**
   * Rewrites stored secrets (a master-key rotation): each change applies only while the row
   * still holds `from` (an endpoint rotated meanwhile keeps its new secret). Returns how many applied.
   */
  replaceEndpointSecrets(changes: { from: EndpointSecrets; to: EndpointSecrets }[]): Promise<number>;
  /** Endpoints disabled by a settle whose system event is not recorded yet, oldest first. */
  pendingDisabledNotices(limit: number): Promise<DisabledEndpoint[]>;
  /** The system events of these disables are recorded (a later disable of the same endpoint stays pending). */
  clearDisabledNotices(notices: Pick<DisabledEndpoint, "endpointId" | "at">[]): Promise<void>;
  /**
   * Purges the events among the `limit` next after id `after` (null: from the first) and before id
   * `before` whose deliveries are all final, with their deliveries and attempts. `last` is where
   * the next call goes on (null: nothing was left before `before`).
   */
  purgeEvents(after: string | null, before: string, limit: number): Promise<{ purged: number; last: string | null }>;
  /** Counts and hourly attempt figures of one endpoint since `since`; null when unknown. */
  endpointStats(scope: Scope, id: string, since: number): Promise<EndpointStats | null>;
  /**
   * Re-queues failed deliveries created in [since, until); returns how many. A disabled endpoint
   * takes no deliveries, so it is refused ("endpoint_disabled") rather than left with pending ones.
   */
  recoverEndpoint(
    scope: Scope,
    id: string,
    since: number,
    until: number,
    now: number,
  ): Promise<number | "endpoint_disabled" | null>;

  /**
   * Commits the requests' events and their deliveries. With `lease`, new deliveries
   * are leased to the caller in the same commit, within the claim's limits, for
   * endpoints with nothing older due: they go out without waiting for a claim.
   */
  ingest(requests: IngestRequest[], now: number, lease?: ClaimRequest | null): Promise<Ingested>;
  /** The operator's event types (the built-in ones are not stored). */
  listEventTypes(): Promise<EventTypeRecord[]>;
  /** Adds an event type to the catalog, or replaces the one of that name. */
  putEventType(type: Omit<EventTypeRecord, "createdAt" | "updatedAt">, now: number): Promise<EventTypeRecord>;
  getEvent(scope: Scope, id: string): Promise<EventRecord | null>;
  listEvents(scope: Scope, filter: EventFilter, page: Page): Promise<EventList>;

  getDelivery(scope: Scope, id: string): Promise<Delivery | null>;
  /** An event's deliveries, a page at a time, in id order. */
  listDeliveries(scope: Scope, eventId: string, page: Page): Promise<Delivery[]>;
  listAttempts(scope: Scope, deliveryId: string, page: Page): Promise<Attempt[]>;
  /** Makes the next scheduled attempt of every pending delivery in the scope due now; returns how many. */
  advancePending(scope: Scope, now: number): Promise<number>;
  /**
   * Queues one manual attempt now; null when unknown, "busy" while an attempt runs,
   * "endpoint_deleted" when its endpoint is gone (nothing could deliver it).
   */
  requestRetry(
    scope: Scope,
    id: string,
    now: number,
  ): Promise<Delivery | "busy" | "endpoint_deleted" | "endpoint_disabled" | null>;

  /**
   * The dispatcher's one write: records finished attempts (only where the claim
   * token still holds) and claims more due deliveries, in one transaction. The disables
   * those outcomes call for are in it too, or, on PostgreSQL, in a second one right after
   * (should that one fail, the next attempt that gets the same answer disables).
   */
  settle(
    outcomes: Outcome[],
    claim: ClaimRequest | null,
    now: number,
  ): Promise<{ recorded: number; claims: Claim[]; disabled: DisabledEndpoint[] }>;
  /** Gives claims that were not attempted back, due at once (on shutdown, or when their endpoint changed). */
  releaseClaims(claims: Claim[], now: number): Promise<void>;
  /** The earliest time any queued delivery is due, or null when none is. */
  nextDueAt(): Promise<number | null>;
  /** Queue and endpoint figures for /metrics: index-only reads, each count capped (METRICS_COUNT_CAP). */
  metricsSnapshot(now: number): Promise<MetricsSnapshot>;
}
