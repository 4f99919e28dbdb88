import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { DispatcherMetrics } from "../delivery/dispatcher.ts";
import type { IngestMetrics } from "../store/group-commit.ts";
import type { AttemptError, Environment, MetricsSnapshot, Outcome } from "../store/store.ts";
import { createSnapshotCache } from "./snapshot-cache.ts";

/** A scrape waits this long at most for the store's figures, then goes without them. */
const STORE_TIMEOUT_MS = 2000;
/** Store figures this young are served again: a scrape storm costs the store one query a second. */
const STORE_MAX_AGE_MS = 1000;

/** Ingest commits, in seconds: from one fsync on a fast disk to a store in trouble. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Events in one ingest commit: one request alone, up to the most one store call takes (5,000). */
const COMMIT_EVENT_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** Attempt durations, in seconds: from a fast receiver on the same network to the longest deadline. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

const OUTCOMES = ["succeeded", "retrying", "failed"] as const;
const ATTEMPT_ERRORS: readonly AttemptError[] = [
  "timeout",
  "connect",
  "dns",
  "blocked",
  "tls",
  "reset",
  "too_large",
  "listener_offline",
];
const FAILURE_REASONS = [...ATTEMPT_ERRORS, "http_3xx", "http_4xx", "http_5xx", "http_other"] as const;
type FailureReason = (typeof FAILURE_REASONS)[number];
const STORE_OPERATIONS = ["ingest", "settle", "release", "metrics"] as const;
type StoreOperation = (typeof STORE_OPERATIONS)[number];
const ENVIRONMENTS: readonly Environment[] = ["test", "live"];

/** Why an attempt failed, as a metric label: its error, or the class of the status code the receiver gave. */
export function failureReason(attempt: { statusCode: number | null; error: AttemptError | null }): FailureReason {
  if (attempt.error) return attempt.error;
  const code = attempt.statusCode ?? 0;
  if (code >= 300 && code < 400) return "http_3xx";
  if (code >= 400 && code < 500) return "http_4xx";
  if (code >= 500 && code < 600) return "http_5xx";
  return "http_other";
}

export interface MetricsOptions {
  /** Every series carries it as the `role` label (all, api, worker). */
  role: string;
  version: string;
  now: () => number;
  logger: Logger;
  /** The store's figures (queue, disabled endpoints), read on a scrape. */
  snapshot: (now: number) => Promise<MetricsSnapshot>;
}

/** One Hookline's metrics: what its parts report as they work, and the text a scrape gets. */
export interface Metrics extends DispatcherMetrics, IngestMetrics {
  readonly contentType: string;
  /** A store call failed (counted by operation). */
  storeFailed(operation: StoreOperation): void;
  /** Endpoints disabled by this process's writes (410 Gone, failing too long), once committed. */
  endpointsDisabled(count: number): void;
  /** Where the in-flight gauge reads from (the dispatcher, created after the metrics). */
  readInFlightFrom(read: () => number): void;
  /** The Prometheus text of every metric; the store's figures only when the store answered in time. */
  render(): Promise<string>;
}

/**
 * Creates the registry of one Hookline instance. Not prom-client's global one: one
 * process may run several instances (tests), each with its own figures. The hot
 * paths only increment pre-bound counters and observe one histogram; the store's
 * figures are read when scraped.
 */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  // The store's figures live apart, so a scrape without them leaves them out instead of showing zeros.
  const storeRegistry = new Registry();
  for (const r of [registry, storeRegistry]) r.setDefaultLabels({ role: options.role });
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: "hookline_build_info",
    help: "Always 1; the version of Hookline running.",
    labelNames: ["version"],
    registers,
  }).set({ version: options.version }, 1);

  const accepted = new Counter({
    name: "hookline_events_accepted_total",
    help: "Events committed by ingest (an idempotent repeat is not counted again).",
    labelNames: ["environment"],
    registers,
  });
  const created = new Counter({
    name: "hookline_deliveries_created_total",
    help: "Deliveries made by fanning accepted events out to their endpoints.",
    labelNames: ["environment"],
    registers,
  });
  const attempts = new Counter({
    name: "hookline_attempts_total",
    help: "Finished attempts by what they made of their delivery: succeeded, retrying (another attempt is scheduled) or failed (given up).",
    labelNames: ["outcome"],
    registers,
  });
  const failures = new Counter({
    name: "hookline_attempt_failures_total",
    help: "Failed attempts by reason: the attempt's error, or the class of the receiver's status code.",
    labelNames: ["reason"],
    registers,
  });
  const duration = new Histogram({
    name: "hookline_attempt_duration_seconds",
    help: "How long attempts took, from sending the request to the end of the response (or the error).",
    buckets: DURATION_BUCKETS,
    registers,
  });
  const commitTime = new Histogram({
    name: "hookline_ingest_commit_seconds",
    help: "How long ingest requests waited for their commit, from handing them to the store to its answer, fsync included: every 202 waits this long.",
    buckets: COMMIT_BUCKETS,
    registers,
  });
  const commitEvents = new Histogram({
    name: "hookline_ingest_commit_events",
    help: "Events per ingest commit: requests that arrive together share one (idempotent repeats included).",
    buckets: COMMIT_EVENT_BUCKETS,
    registers,
  });
  const autoDisabled = new Counter({
    name: "hookline_endpoints_auto_disabled_total",
    help: "Endpoints this process disabled because the receiver answered 410 Gone or failed for too long.",
    registers,
  });
  const storeErrors = new Counter({
    name: "hookline_store_errors_total",
    help: "Failed store calls: ingest commits, the dispatcher's writes (settle, release), the metrics' reads.",
    labelNames: ["operation"],
    registers,
  });
  let inFlight = () => 0;
  new Gauge({
    name: "hookline_attempts_in_flight",
    help: "Attempts this process is making now (including claims waiting for a rate limit's send time).",
    registers,
    collect() {
      this.set(inFlight());
    },
  });
  const storeUp = new Gauge({
    name: "hookline_store_up",
    help: "1 when the store answered this scrape's queries in time, else 0 (the store's figures are then left out).",
    registers,
  });

  const storeRegisters = [storeRegistry];
  const queued = new Gauge({
    name: "hookline_deliveries_queued",
    help: "Deliveries waiting for an attempt: due, scheduled for a retry, or being attempted (counted up to 100,001).",
    registers: storeRegisters,
  });
  const due = new Gauge({
    name: "hookline_deliveries_due",
    help: "Deliveries due now or overdue and not yet claimed, to enabled endpoints (counted up to 100,001).",
    registers: storeRegisters,
  });
  const oldestDueAge = new Gauge({
    name: "hookline_oldest_due_delivery_age_seconds",
    help: "How long the longest-waiting due delivery has been due (0 when none is).",
    registers: storeRegisters,
  });
  const disabled = new Gauge({
    name: "hookline_endpoints_disabled",
    help: "Disabled endpoints, by cause: request (a user) or automatic (410 Gone, failing too long).",
    labelNames: ["cause"],
    registers: storeRegisters,
  });

  // Every label value is known ahead: zero series from the start (rates work at once), bound once.
  const acceptedIn = bind(ENVIRONMENTS, (environment) => accepted.labels(environment));
  const createdIn = bind(ENVIRONMENTS, (environment) => created.labels(environment));
  const attemptsBy = bind(OUTCOMES, (outcome) => attempts.labels(outcome));
  const failuresBy = bind(FAILURE_REASONS, (reason) => failures.labels(reason));
  const storeErrorsIn = bind(STORE_OPERATIONS, (operation) => storeErrors.labels(operation));

  const snapshots = createSnapshotCache(
    async () => {
      const at = options.now();
      return { at, figures: await options.snapshot(at) };
    },
    {
      maxAgeMs: STORE_MAX_AGE_MS,
      timeoutMs: STORE_TIMEOUT_MS,
      now: options.now,
      onMiss(miss) {
        storeErrorsIn.metrics.inc();
        if (miss.kind === "timeout") options.logger.warn("metrics: the store did not answer in time");
        else options.logger.warn({ err: miss.error }, "metrics: the store's figures could not be read");
      },
    },
  );

  return {
    contentType: registry.contentType,
    committed(seconds, events) {
      commitTime.observe(seconds);
      commitEvents.observe(events);
    },
    ingested(request, result) {
      if (!result.ok) return;
      let fresh = 0;
      for (const { replayed } of result.events) if (!replayed) fresh++;
      const environment = request.scope.environment;
      if (fresh > 0) acceptedIn[environment].inc(fresh);
      if (result.deliveries > 0) createdIn[environment].inc(result.deliveries);
    },
    attempted(outcome: Outcome) {
      const status = outcome.status === "pending" ? "retrying" : outcome.status;
      attemptsBy[status].inc();
      if (status !== "succeeded") failuresBy[failureReason(outcome.attempt)].inc();
      duration.observe(outcome.attempt.durationMs / 1000);
    },
    storeFailed(operation: StoreOperation) {
      storeErrorsIn[operation].inc();
    },
    endpointsDisabled(count) {
      autoDisabled.inc(count);
    },
    readInFlightFrom(read) {
      inFlight = read;
    },
    async render() {
      const snapshot = await snapshots.get();
      storeUp.set(snapshot ? 1 : 0);
      const text = await registry.metrics();
      if (!snapshot) return text;
      const { at, figures } = snapshot;
      queued.set(figures.queued);
      due.set(figures.due);
      oldestDueAge.set(figures.oldestDueAt === null ? 0 : Math.max(0, at - figures.oldestDueAt) / 1000);
      disabled.set({ cause: "request" }, figures.disabledEndpoints.byRequest);
      disabled.set({ cause: "automatic" }, figures.disabledEndpoints.automatic);
      return text + (await storeRegistry.metrics());
    },
  };
}

/** One pre-bound child per label value, each at zero. */
function bind<K extends string>(values: readonly K[], child: (value: K) => { inc(n?: number): void }) {
  const children = {} as Record<K, { inc(n?: number): void }>;
  for (const value of values) {
    children[value] = child(value);
    children[value].inc(0);
  }
  return children;
}
