import type { Worker } from "./child-process.ts";
import { type CpuReaders, type CpuUse, cpuMeter } from "./cpu.ts";
import type { HooklineServer } from "./hookline-server.ts";
import type { CeilingServerApi } from "./ingest-ceiling-server.ts";
import { commitMeter, type IngestCommits } from "./ingest-commits.ts";
import type { LoadApi, RunParams, RunResult } from "./load.ts";
import type { BenchPostgres, DatabaseActivity } from "./postgres.ts";
import type { Ledger, ReceiverApi } from "./receiver.ts";
import { formatCount, type LatencySummary, round } from "./stats.ts";

/** Settings of one benchmark run, from the command line (see run.ts --help). */
export interface BenchOptions {
  quick: boolean;
  /** Measured time of S1 and S2 (and S6's S1), after the warm-up. */
  durationMs: number;
  warmupMs: number;
  /** Connections of the ingest load generator. */
  ingestConnections: number;
  batchSize: number;
  /** S3: deliveries queued before the drain starts. */
  drainEvents: number;
  /** S3: connections of the raw delivery ceiling: Hookline's default per-endpoint in-flight cap. */
  deliveryConnections: number;
  receiverDelayMs: number;
  drainTimeoutMs: number;
  /** S4/S5: open-loop events per second, all endpoints together. */
  rate: number;
  /** S4/S5: how long the open loop sends at the full rate (measured). */
  steadyDurationMs: number;
  /** S4/S5: before that, the rate ramps up from a tenth to full over this long (not measured). */
  steadyWarmupMs: number;
  /** S4/S5: connections of the open-loop sender. */
  steadyConnections: number;
  /** S4/S5: after the last send, how long deliveries may take to arrive before they count as missing. */
  settleTimeoutMs: number;
  /** S4: how long the relay ceiling gets the same open loop. */
  relayDurationMs: number;
  /** S5: HOOKLINE_ATTEMPT_TIMEOUT, the time a hanging endpoint holds an attempt. */
  hangTimeout: string;
  /** S6: deliveries scheduled for later before the measurements. */
  backlog: number;
  /** S6: how long idle CPU is measured. */
  idleMs: number;
  /** S7: endpoints one event fans out to, and events sent one after another. */
  fanoutEndpoints: number;
  fanoutEvents: number;
  /** Write a CPU profile of every Hookline server here (node --cpu-prof); null for none. */
  profileDir: string | null;
  /** The -pg scenarios: HOOKLINE_DATABASE_POOL_SIZE of every node; null leaves Hookline's default (10). */
  poolSize: number | null;
}

/** One measured figure: Hookline's, or the ceiling's beside it. */
export interface Figure {
  /** What was measured, e.g. "hookline serve" or "bare node:http, parse + 202". */
  what: string;
  eventsPerS: number | null;
  /** Per HTTP request (a batch call is one request), milliseconds. */
  latency: LatencySummary | null;
  /** CPU used by the process doing the work (the server, or the ceiling's sender), as % of one core. */
  cpuPercent: number | null;
  /** CPU used by the whole machine over the same window, as % of all cores (other work on the host shows here). */
  machineCpuPercent: number | null;
  details: Record<string, unknown>;
}

/** One condition of a scenario's target, e.g. p99 ≤ 50 ms. */
export interface TargetCheck {
  name: string;
  value: number | null;
  op: "≥" | "≤" | "<";
  limit: number;
  unit: string;
  /** null when the value could not be measured (or the reference is missing). */
  pass: boolean | null;
}

/** The target for a scenario: met only when every check passes. */
export interface Target {
  /** The target as the issue states it. */
  text: string;
  checks: TargetCheck[];
  pass: boolean | null;
}

export interface ScenarioResult {
  name: string;
  title: string;
  /** "FAILED" means the run itself is not valid (missing events, errors); a missed target is not a failure. */
  status: "ok" | "FAILED";
  hookline: Figure | null;
  ceiling: Figure | null;
  /** Hookline's figure divided by the ceiling's. */
  ratio: number | null;
  /** The table's cells for the two figures, with units. */
  display: { hookline: string; ceiling: string };
  /** Hookline's headline latency (ms): per request for ingest, scheduled send → arrival at the receiver for S4/S5/S7. */
  latency: LatencySummary | null;
  target: Target;
  /** The delivery ledger, where the scenario delivers. */
  ledger: Ledger | null;
  /** Why the scenario FAILED. */
  problems: string[];
  /** Worth knowing, not a failure (e.g. duplicates, which at-least-once allows). */
  notes: string[];
  /** Seconds the scenario took, setup included. */
  elapsedS: number;
}

/**
 * The ingest ceilings (bench/ingest-ceiling-server.ts): "bare" parses and answers; "durable"
 * also commits each turn's events to one SQLite table first; "store" puts them through
 * Hookline's own embedded store first, on the same one thread.
 */
export type IngestCeiling = "bare" | "durable" | "store";

export interface ScenarioContext {
  options: BenchOptions;
  receiver: Worker<ReceiverApi>;
  receiverUrl: string;
  load: Worker<LoadApi>;
  /** An ingest ceiling server (started on first use, shared): see `IngestCeiling`. */
  ingestCeiling(kind?: IngestCeiling): Promise<{ url: string; worker: Worker<CeilingServerApi> }>;
  /**
   * A fresh ingest ceiling that relays every event to the receiver (S4's ceiling); stop it after use.
   * `durable`: each event is committed to SQLite before its 202 (S4's durable ceiling).
   */
  startRelay(durable?: boolean): Promise<{ url: string; worker: Worker<CeilingServerApi> }>;
  /** Results of the scenarios that already ran, by name (S5 compares with S4, S6 with S1). */
  previous: ReadonlyMap<string, ScenarioResult>;
  /**
   * A Hookline server with a fresh data dir of its own, which `stop()` deletes.
   * `label` names its CPU profile (--profile); `env` adds HOOKLINE_* settings.
   * With `more.dataDir`, it starts on an existing data dir instead (whose TEST key,
   * `more.testKey`, is known: only a first start prints one, as does only the first
   * node on a PostgreSQL schema); `more.args` go after `serve` (e.g. --role worker).
   */
  startHookline(
    label: string,
    env?: Record<string, string>,
    more?: { dataDir?: string; testKey?: string; args?: string[] },
  ): Promise<HooklineServer>;
  /** The PostgreSQL server of the -pg scenarios: started on first use, shared, stopped after the last scenario. */
  postgres(): Promise<BenchPostgres>;
  /** A transient status line (stderr). */
  progress(text: string): void;
  /** A lasting line (stderr). */
  log(text: string): void;
}

/**
 * The Hookline side of a scenario: one process on the embedded store, or API and
 * worker processes sharing PostgreSQL (deployment.ts).
 */
export interface Deployment {
  /** Takes the API calls and the producers' events (role all or api). */
  api: HooklineServer;
  /** How many processes deliver (role all or worker). */
  deliverers: number;
  /** What runs, for the figure, e.g. "hookline serve (SQLite, synchronous=FULL)". */
  what: string;
  /** CPU seconds of every Hookline process together. */
  cpuSeconds(): number | null;
  /** CPU seconds of its parts apart: on SQLite the server's threads; on PostgreSQL each process, and the PostgreSQL server. */
  cpuByPart: CpuReaders;
  /** On PostgreSQL: starts sampling what Hookline's connections do; null on SQLite. */
  watchDatabase(): { stop(): Promise<DatabaseActivity> } | null;
  /** Stops every process (and drops the schema); answers notes on unclean exits. */
  stop(): Promise<string[]>;
}

export type Deploy = (ctx: ScenarioContext, label: string, env?: Record<string, string>) => Promise<Deployment>;

export interface Scenario {
  name: string;
  title: string;
  /** The target as the issue states it (shown even when the scenario fails). */
  target: string;
  run(ctx: ScenarioContext): Promise<Omit<ScenarioResult, "elapsedS">>;
}

/** CPU seconds of the benchmark's own processes, which share the machine's cores with the server. */
export function toolReaders(ctx: ScenarioContext): CpuReaders {
  return { "load generator": () => ctx.load.cpuSeconds(), receiver: () => ctx.receiver.cpuSeconds() };
}

/**
 * Runs a fixed-duration load and reports progress; CPU (`readCpu`, and each of
 * `otherCpu`) and, given a Hookline server's URL in `commitsOf`, its ingest
 * commits are measured exactly over the measured window (the load generator
 * announces its edges).
 */
export async function runLoad(
  ctx: ScenarioContext,
  params: RunParams,
  readCpu: () => number | null,
  otherCpu: CpuReaders = {},
  commitsOf?: string,
): Promise<{ result: RunResult; cpu: CpuUse; commits: IngestCommits | null }> {
  const meter = cpuMeter(readCpu, otherCpu);
  const commits = commitsOf === undefined ? null : commitMeter(commitsOf);
  const offWindow = ctx.load.on("window", (data: { label: string; edge: "start" | "end" }) => {
    if (data.label !== params.label) return;
    if (data.edge === "start") {
      meter.start();
      commits?.start();
    } else {
      meter.stop();
      commits?.stop();
    }
  });
  const offProgress = ctx.load.on(
    "progress",
    (data: { label: string; phase: string; elapsedMs: number; totalMs: number; events: number }) => {
      if (data.label !== params.label) return;
      const seconds = `${(Math.min(data.elapsedMs, data.totalMs) / 1000).toFixed(0)}/${(data.totalMs / 1000).toFixed(0)} s`;
      const rate = data.phase === "measure" ? `  ${formatCount((data.events * 1000) / data.elapsedMs)} events/s` : "";
      ctx.progress(`${params.label}  ${data.phase} ${seconds}${rate}`);
    },
  );
  try {
    const result = await ctx.load.call("run", params);
    return { result, cpu: meter.result, commits: (await commits?.result()) ?? null };
  } finally {
    offWindow();
    offProgress();
  }
}

export function ratio(hookline: Figure | null, ceiling: Figure | null): number | null {
  if (!hookline?.eventsPerS || !ceiling?.eventsPerS) return null;
  return round(hookline.eventsPerS / ceiling.eventsPerS, 3);
}

export function check(
  name: string,
  value: number | null | undefined,
  op: TargetCheck["op"],
  limit: number,
  unit = "",
): TargetCheck {
  const v = value ?? null;
  const pass = v === null ? null : op === "≥" ? v >= limit : op === "≤" ? v <= limit : v < limit;
  return { name, value: v, op, limit, unit, pass };
}

/** A target is met when every check passes; unknown when one could not be measured. */
export function target(text: string, checks: TargetCheck[]): Target {
  const pass = checks.some((c) => c.pass === false)
    ? false
    : checks.length === 0 || checks.some((c) => c.pass === null)
      ? null
      : true;
  return { text, checks, pass };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i] as T, i);
      }
    }),
  );
  return out;
}
