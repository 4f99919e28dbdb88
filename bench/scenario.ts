import type { Worker } from "./child-process.ts";
import { type CpuUse, cpuMeter } from "./cpu.ts";
import type { HooklineServer } from "./hookline-server.ts";
import type { LoadApi, RunParams, RunResult } from "./load.ts";
import type { ReceiverApi } from "./receiver.ts";
import { formatCount, type LatencySummary, round } from "./stats.ts";

/** Settings of one benchmark run, from the command line (see run.ts --help). */
export interface BenchOptions {
  quick: boolean;
  /** Measured time of each fixed-duration scenario, after the warm-up. */
  durationMs: number;
  warmupMs: number;
  /** Connections of the ingest load generator. */
  ingestConnections: number;
  batchSize: number;
  /** Deliveries queued before a drain starts. */
  drainEvents: number;
  /** Connections of the raw delivery ceiling: Hookline's default per-endpoint in-flight cap. */
  deliveryConnections: number;
  receiverDelayMs: number;
  drainTimeoutMs: number;
  /** Write a CPU profile of every Hookline server here (node --cpu-prof); null for none. */
  profileDir: string | null;
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

export interface ScenarioResult {
  name: string;
  title: string;
  status: "ok" | "FAILED";
  hookline: Figure | null;
  ceiling: Figure | null;
  /** Hookline's figure divided by the ceiling's. */
  ratio: number | null;
  /** Why the scenario FAILED. */
  problems: string[];
  /** Worth knowing, not a failure (e.g. duplicates, which at-least-once allows). */
  notes: string[];
}

export interface ScenarioContext {
  options: BenchOptions;
  receiver: Worker<ReceiverApi>;
  receiverUrl: string;
  load: Worker<LoadApi>;
  /** The bare ingest ceiling server (started on first use, shared). */
  ingestCeiling(): Promise<{ url: string; worker: Worker<Record<string, never>> }>;
  /**
   * A Hookline server with a fresh data dir of its own, which `stop()` deletes.
   * `label` names its CPU profile (--profile); `env` adds HOOKLINE_* settings.
   */
  startHookline(label: string, env?: Record<string, string>): Promise<HooklineServer>;
  /** A transient status line (stderr). */
  progress(text: string): void;
  /** A lasting line (stderr). */
  log(text: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/**
 * Runs a fixed-duration load and reports progress; CPU of `target` is sampled
 * exactly over the measured window (the load generator announces its edges).
 */
export async function runLoad(
  ctx: ScenarioContext,
  params: RunParams,
  readCpu: () => number | null,
): Promise<{ result: RunResult; cpu: CpuUse }> {
  const meter = cpuMeter(readCpu);
  const offWindow = ctx.load.on("window", (data: { label: string; edge: "start" | "end" }) => {
    if (data.label !== params.label) return;
    if (data.edge === "start") meter.start();
    else meter.stop();
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
    return { result, cpu: meter.result };
  } finally {
    offWindow();
    offProgress();
  }
}

export function ratio(hookline: Figure | null, ceiling: Figure | null): number | null {
  if (!hookline?.eventsPerS || !ceiling?.eventsPerS) return null;
  return round(hookline.eventsPerS / ceiling.eventsPerS, 3);
}
