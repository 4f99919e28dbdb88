import type { CpuUse } from "./cpu.ts";
import type { RunResult } from "./load.ts";
import { EVENT_BYTES } from "./payloads.ts";
import { type Figure, ratio, runLoad, type Scenario, type ScenarioContext, type ScenarioResult } from "./scenario.ts";

/**
 * Ingest: a closed loop of producers posting events for a fixed time, no
 * endpoints (so no deliveries), against Hookline and against the bare
 * node:http ceiling with the same load generator and connection count.
 */
function ingestScenario(name: string, title: string, eventsPerRequest: (ctx: ScenarioContext) => number): Scenario {
  return {
    name,
    title,
    async run(ctx) {
      const { options } = ctx;
      const perRequest = eventsPerRequest(ctx);
      const path = perRequest === 1 ? "/v1/events" : "/v1/events/batch";
      const base = {
        path,
        eventsPerRequest: perRequest,
        connections: options.ingestConnections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        expectStatus: 202,
      };

      const ceilingServer = await ctx.ingestCeiling();
      const ceilingRun = await runLoad(
        ctx,
        { ...base, label: `${name}/ceiling`, origin: ceilingServer.url, headers: { authorization: "Bearer bench" } },
        () => ceilingServer.worker.cpuSeconds(),
      );

      const server = await ctx.startHookline(name);
      let hooklineRun: Awaited<ReturnType<typeof runLoad>>;
      let exit: number | string;
      try {
        hooklineRun = await runLoad(
          ctx,
          {
            ...base,
            label: `${name}/hookline`,
            origin: server.url,
            headers: { authorization: `Bearer ${server.testKey}` },
          },
          () => server.cpuSeconds(),
        );
      } finally {
        exit = await server.stop();
      }

      const hookline = figure("hookline serve (SQLite, synchronous=FULL)", hooklineRun.result, hooklineRun.cpu);
      const ceiling = figure("bare node:http: parse JSON, answer 202", ceilingRun.result, ceilingRun.cpu);
      const problems: string[] = [];
      for (const [who, run] of [
        ["Hookline", hooklineRun.result],
        ["ceiling", ceilingRun.result],
      ] as const) {
        const failed = Object.entries(run.errors);
        if (run.requests === 0) problems.push(`${who}: no request was accepted`);
        if (failed.length) problems.push(`${who}: not accepted: ${failed.map(([k, n]) => `${k} ×${n}`).join(", ")}`);
      }
      const result: ScenarioResult = {
        name,
        title: `${path}, ${perRequest} × ${EVENT_BYTES / 1024} KiB event${perRequest === 1 ? "" : "s"} per request, ${options.ingestConnections} connections`,
        status: problems.length ? "FAILED" : "ok",
        hookline,
        ceiling,
        ratio: ratio(hookline, ceiling),
        problems,
        notes: exit === 0 ? [] : [`the Hookline server exited with ${exit} when stopped`],
      };
      return result;
    },
  };
}

function figure(what: string, run: RunResult, cpu: CpuUse): Figure {
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

export const ingestSingle = ingestScenario("ingest", "POST /v1/events, one 1 KiB event per request", () => 1);

export const ingestBatch = ingestScenario(
  "ingest-batch",
  "POST /v1/events/batch, --batch-size × 1 KiB events per request",
  (ctx) => ctx.options.batchSize,
);
