import { postgresDeployment, processNotes, shapeText } from "./deployment.ts";
import { drainScenario } from "./drain-scenario.ts";
import { commitNote } from "./ingest-commits.ts";
import { ingestFigure, ingestProblems } from "./ingest-scenarios.ts";
import { EVENT_BYTES } from "./payloads.ts";
import type { DatabaseActivity } from "./postgres.ts";
import {
  check,
  type Deploy,
  type Figure,
  ratio,
  runLoad,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  target,
} from "./scenario.ts";
import { formatCount, formatMs, formatRatio } from "./stats.ts";
import { steadyScenario } from "./steady-scenarios.ts";

/**
 * The PostgreSQL variants (`npm run bench -- --postgres`): S1, S3 and S4 with the
 * same loads, ceilings and ledgers as on SQLite, against Hookline split into
 * processes as docs/deploy.md describes (`--role api` and `--role worker`), each
 * deployment in a fresh schema of the one PostgreSQL server (postgres.ts).
 */

const S1_TARGET = "≥ 0.5 × bare node:http ceiling";

interface IngestRun {
  figure: Figure;
  problems: string[];
  notes: string[];
}

/** S1's closed loop against one deployment, with every process's CPU and the database watched over the window. */
async function ingestOn(ctx: ScenarioContext, label: string, deploy: Deploy): Promise<IngestRun> {
  const deployment = await deploy(ctx, label);
  const notes: string[] = [];
  let run: Awaited<ReturnType<typeof runLoad>>;
  let database: DatabaseActivity | null = null;
  try {
    const watch = deployment.watchDatabase();
    try {
      run = await runLoad(
        ctx,
        {
          path: "/v1/events",
          eventsPerRequest: 1,
          connections: ctx.options.ingestConnections,
          warmupMs: ctx.options.warmupMs,
          durationMs: ctx.options.durationMs,
          expectStatus: 202,
          label: `${label}/hookline`,
          origin: deployment.api.url,
          headers: { authorization: `Bearer ${deployment.api.testKey}` },
        },
        () => deployment.cpuSeconds(),
        deployment.cpuByPart,
        deployment.api.url,
      );
    } finally {
      database = watch ? await watch.stop() : null;
    }
  } finally {
    notes.push(...(await deployment.stop()));
  }
  const figure = ingestFigure(deployment.what, run.result, run.cpu);
  if (run.cpu.others) figure.details.cpuByPart = run.cpu.others;
  if (database) figure.details.database = database;
  if (run.commits) figure.details.ingestCommits = run.commits;
  return {
    figure,
    problems: ingestProblems(label, run.result),
    notes: [...notes, ...commitNote(run.commits), ...processNotes(run.cpu, database)],
  };
}

/**
 * S1-pg: S1's ingest against one `--role api` process (it delivers nothing, so with
 * no endpoints it is the same work as S1), then against one `--role all` process
 * (which also runs a dispatcher, idle here), each on a fresh schema.
 */
export const s1Postgres: Scenario = {
  name: "S1-pg",
  title: "ingest on PostgreSQL: POST /v1/events to one --role api process (and one --role all), 50 connections",
  target: S1_TARGET,
  async run(ctx) {
    const { options } = ctx;
    const ceilingServer = await ctx.ingestCeiling();
    const ceilingRun = await runLoad(
      ctx,
      {
        path: "/v1/events",
        eventsPerRequest: 1,
        connections: options.ingestConnections,
        warmupMs: options.warmupMs,
        durationMs: options.durationMs,
        expectStatus: 202,
        label: "S1-pg/ceiling",
        origin: ceilingServer.url,
        headers: { authorization: "Bearer bench" },
      },
      () => ceilingServer.worker.cpuSeconds(),
    );
    const ceiling = ingestFigure("bare node:http: parse JSON, answer 202", ceilingRun.result, ceilingRun.cpu);
    const api = await ingestOn(ctx, "S1-pg", postgresDeployment({ apiRole: "api", workers: 0 }));
    const all = await ingestOn(ctx, "S1-pg-all", postgresDeployment({ apiRole: "all", workers: 0 }));

    const hookline = api.figure;
    hookline.details.roleAll = all.figure;
    const r = ratio(hookline, ceiling);
    const allLatency = all.figure.latency;
    const notes = [
      ...api.notes.map((note) => `--role api: ${note}`),
      `--role all (same load, fresh schema): ${formatCount(all.figure.eventsPerS)} events/s, ${formatRatio(ratio(all.figure, ceiling))} of the ceiling, ${formatRatio(ratio(all.figure, hookline))} of --role api; p50 / p99 / max ${allLatency ? `${formatMs(allLatency.p50)} / ${formatMs(allLatency.p99)} / ${formatMs(allLatency.max)}` : "–"} ms; CPU ${all.figure.cpuPercent ?? "–"}% of a core`,
      ...all.notes.map((note) => `--role all: ${note}`),
    ];
    const problems = [...api.problems, ...all.problems, ...ingestProblems("ceiling", ceilingRun.result)];
    const result: Omit<ScenarioResult, "elapsedS"> = {
      name: "S1-pg",
      title: `/v1/events, 1 × ${EVENT_BYTES / 1024} KiB event per request, ${options.ingestConnections} connections, no endpoints, closed loop ${options.durationMs / 1000} s; ${shapeText({ apiRole: "api", workers: 0 })} on PostgreSQL (then --role all)`,
      status: problems.length ? "FAILED" : "ok",
      hookline,
      ceiling,
      ratio: r,
      display: {
        hookline: `${formatCount(hookline.eventsPerS)} events/s (all: ${formatCount(all.figure.eventsPerS)})`,
        ceiling: `${formatCount(ceiling.eventsPerS)} events/s`,
      },
      latency: hookline.latency,
      target: target(S1_TARGET, [check("Hookline / ceiling", r, "≥", 0.5, "×")]),
      ledger: null,
      problems,
      notes,
    };
    return result;
  },
};

/** Every PostgreSQL variant, in the order they run. */
export const POSTGRES_SCENARIOS: readonly Scenario[] = [
  s1Postgres,
  drainScenario(
    "S3-pg-1w",
    "drain on PostgreSQL, 1 worker process",
    postgresDeployment({ apiRole: "api", workers: 1 }),
  ),
  drainScenario(
    "S3-pg-2w",
    "drain on PostgreSQL, 2 worker processes",
    postgresDeployment({ apiRole: "api", workers: 2 }),
  ),
  steadyScenario(
    "S4-pg-1w",
    "steady end to end on PostgreSQL: 1 API + 1 worker process",
    postgresDeployment({ apiRole: "api", workers: 1 }),
  ),
  steadyScenario(
    "S4-pg-2w",
    "steady end to end on PostgreSQL: 1 API + 2 worker processes",
    postgresDeployment({ apiRole: "api", workers: 2 }),
  ),
];
