import type { CpuUse } from "./cpu.ts";
import { processNotes } from "./deployment.ts";
import type { HooklineServer } from "./hookline-server.ts";
import { commitNote, type IngestCommits } from "./ingest-commits.ts";
import type { RunParams, RunResult } from "./load.ts";
import { EVENT_BYTES } from "./payloads.ts";
import {
  check,
  type Figure,
  type IngestCeiling,
  ratio,
  runLoad,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  target,
} from "./scenario.ts";
import { formatCount, formatMs } from "./stats.ts";
import { measureWriteCeiling } from "./write-ceiling.ts";

/**
 * Ingest: a closed loop of producers posting events for a fixed time, no
 * endpoints (so no deliveries), against Hookline and against the bare
 * node:http ceiling with the same load generator and connection count.
 */

export const HOOKLINE_INGEST = "hookline serve (SQLite, synchronous=FULL)";

function baseParams(ctx: ScenarioContext, eventsPerRequest: number): Omit<RunParams, "label" | "origin" | "headers"> {
  const { options } = ctx;
  return {
    path: eventsPerRequest === 1 ? "/v1/events" : "/v1/events/batch",
    eventsPerRequest,
    connections: options.ingestConnections,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    expectStatus: 202,
  };
}

/** The S1 load (one event per request) against a running Hookline. */
export async function measureIngest(
  ctx: ScenarioContext,
  server: HooklineServer,
  label: string,
  eventsPerRequest = 1,
): Promise<{ result: RunResult; cpu: CpuUse; commits: IngestCommits | null }> {
  return runLoad(
    ctx,
    {
      ...baseParams(ctx, eventsPerRequest),
      label,
      origin: server.url,
      headers: { authorization: `Bearer ${server.testKey}` },
    },
    () => server.cpuSeconds(),
    { ...server.cpuByThread, "load generator": () => ctx.load.cpuSeconds() },
    server.url,
  );
}

/** Problems of an ingest run: nothing accepted, or anything not accepted. */
export function ingestProblems(who: string, run: RunResult): string[] {
  const problems: string[] = [];
  const failed = Object.entries(run.errors);
  if (run.requests === 0) problems.push(`${who}: no request was accepted`);
  if (failed.length) problems.push(`${who}: not accepted: ${failed.map(([k, n]) => `${k} ×${n}`).join(", ")}`);
  return problems;
}

function ingestScenario(
  name: string,
  title: string,
  targetText: string,
  eventsPerRequest: (ctx: ScenarioContext) => number,
  checks: (hookline: Figure, ceiling: Figure) => ReturnType<typeof check>[],
  { withWriteCeiling = false } = {},
): Scenario {
  return {
    name,
    title,
    target: targetText,
    async run(ctx) {
      const { options } = ctx;
      const perRequest = eventsPerRequest(ctx);
      const base = baseParams(ctx, perRequest);

      const runCeiling = async (kind: IngestCeiling) => {
        const ceilingServer = await ctx.ingestCeiling(kind);
        return runLoad(
          ctx,
          {
            ...base,
            label: `${name}/${kind === "bare" ? "ceiling" : `${kind}-ceiling`}`,
            origin: ceilingServer.url,
            headers: { authorization: "Bearer bench" },
          },
          () => ceilingServer.worker.cpuSeconds(),
          { "bare server": () => ceilingServer.worker.cpuSeconds(), "load generator": () => ctx.load.cpuSeconds() },
        );
      };
      const ceilingRun = await runCeiling("bare");
      const durableRun = await runCeiling("durable");
      // The quick run leaves the store ceiling out, to stay under a minute.
      const storeRun = options.quick ? null : await runCeiling("store");

      const server = await ctx.startHookline(name);
      let hooklineRun: Awaited<ReturnType<typeof runLoad>>;
      let exit: number | string;
      try {
        hooklineRun = await measureIngest(ctx, server, `${name}/hookline`, perRequest);
      } finally {
        exit = await server.stop();
      }

      const hookline = ingestFigure(HOOKLINE_INGEST, hooklineRun.result, hooklineRun.cpu);
      // The disk's own limit for durable 1 KiB rows, measured now, after the server stopped.
      const writeCeiling = withWriteCeiling ? measureWriteCeiling(options.quick ? 50_000 : 200_000, 1000) : null;
      if (writeCeiling) hookline.details.writeCeiling = writeCeiling;
      if (hooklineRun.commits) hookline.details.ingestCommits = hooklineRun.commits;
      const ceiling = ingestFigure("bare node:http: parse JSON, answer 202", ceilingRun.result, ceilingRun.cpu);
      const durable = ingestFigure(DURABLE_CEILING, durableRun.result, durableRun.cpu);
      const store = storeRun ? ingestFigure(STORE_CEILING, storeRun.result, storeRun.cpu) : null;
      ceiling.details.durable = durable;
      if (store) ceiling.details.store = store;
      const problems = [
        ...ingestProblems("Hookline", hooklineRun.result),
        ...ingestProblems("ceiling", ceilingRun.result),
        ...ingestProblems("durable ceiling", durableRun.result),
        ...(storeRun ? ingestProblems("store ceiling", storeRun.result) : []),
      ];
      const r = ratio(hookline, ceiling);
      const result: Omit<ScenarioResult, "elapsedS"> = {
        name,
        title: `${base.path}, ${perRequest} × ${EVENT_BYTES / 1024} KiB event${perRequest === 1 ? "" : "s"} per request, ${options.ingestConnections} connections, no endpoints, closed loop ${options.durationMs / 1000} s`,
        status: problems.length ? "FAILED" : "ok",
        hookline,
        ceiling,
        ratio: r,
        display: {
          hookline: `${formatCount(hookline.eventsPerS)} events/s`,
          ceiling: `${formatCount(ceiling.eventsPerS)} events/s; durable ${formatCount(durable.eventsPerS)}/s${store ? `; store ${formatCount(store.eventsPerS)}/s` : ""}`,
        },
        latency: hookline.latency,
        target: target(targetText, checks(hookline, ceiling)),
        ledger: null,
        problems,
        notes: [
          ...(writeCeiling
            ? [
                `durable-write ceiling (bench/write-ceiling.ts: raw SQLite, 1 KiB rows, integer key only, 1,000 a commit, synchronous=FULL, no HTTP): ${formatCount(writeCeiling.rowsPerS)} rows/s; Hookline ${pct(hookline.eventsPerS, writeCeiling.rowsPerS)} of it`,
              ]
            : []),
          ...commitNote(hooklineRun.commits),
          ...processNotes(hooklineRun.cpu, null, { per: { ratePerS: hookline.eventsPerS, unit: "event" } }),
          ...processNotes(ceilingRun.cpu, null, {
            who: "ceiling",
            per: { ratePerS: ceiling.eventsPerS, unit: "event" },
          }),
          `durable ceiling (${DURABLE_CEILING}): ${formatCount(durable.eventsPerS)} events/s, p50 / p99 ${latencyText(durable)} ms; Hookline ${pct(hookline.eventsPerS, durable.eventsPerS ?? 0)} of it`,
          ...processNotes(durableRun.cpu, null, {
            who: "durable ceiling",
            per: { ratePerS: durable.eventsPerS, unit: "event" },
          }),
          ...(store && storeRun
            ? [
                `store ceiling (${STORE_CEILING}): ${formatCount(store.eventsPerS)} events/s (${pct(store.eventsPerS, ceiling.eventsPerS ?? 0)} of bare), p50 / p99 ${latencyText(store)} ms; Hookline ${pct(hookline.eventsPerS, store.eventsPerS ?? 0)} of it`,
                ...processNotes(storeRun.cpu, null, {
                  who: "store ceiling",
                  per: { ratePerS: store.eventsPerS, unit: "event" },
                }),
              ]
            : []),
          ...(exit === 0 ? [] : [`the Hookline server exited with ${exit} when stopped`]),
        ],
      };
      return result;
    },
  };
}

const DURABLE_CEILING =
  "the same server, each request's events committed to SQLite (synchronous=FULL) before the 202, one commit per event-loop turn";

const STORE_CEILING =
  "the same server, each turn's requests put through Hookline's own embedded store (store.ingest, synchronous=FULL) on its one thread before the 202s";

function latencyText(figure: Figure): string {
  return figure.latency ? `${formatMs(figure.latency.p50)} / ${formatMs(figure.latency.p99)}` : "–";
}

function pct(part: number | null, whole: number): string {
  return part === null ? "–" : `${Math.round((part / whole) * 100)}%`;
}

export function ingestFigure(what: string, run: RunResult, cpu: CpuUse): Figure {
  return {
    what,
    eventsPerS: run.eventsPerS,
    latency: run.latency,
    cpuPercent: cpu.percent,
    machineCpuPercent: cpu.machinePercent,
    details: {
      connections: run.connections,
      windowMs: run.windowMs,
      requests: run.requests,
      events: run.events,
      requestsPerS: run.requestsPerS,
      errors: run.errors,
    },
  };
}

export const s1 = ingestScenario(
  "S1",
  "ingest: POST /v1/events, one 1 KiB event per request, 50 connections, no endpoints",
  "≥ 0.5 × bare node:http ceiling",
  () => 1,
  (hookline, ceiling) => [check("Hookline / ceiling", ratio(hookline, ceiling), "≥", 0.5, "×")],
);

export const s2 = ingestScenario(
  "S2",
  "ingest via POST /v1/events/batch, 100 × 1 KiB events per call",
  "≥ 100,000 events/s",
  (ctx) => ctx.options.batchSize,
  (hookline) => [check("events/s", hookline.eventsPerS, "≥", 100_000, "events/s")],
  { withWriteCeiling: true },
);
