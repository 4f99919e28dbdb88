import { type CpuReaders, type CpuUse, cpuMeter } from "./cpu.ts";
import { processNotes, sqliteDeployment } from "./deployment.ts";
import type { HooklineServer } from "./hookline-server.ts";
import { commitMeter, commitNote, type IngestCommits } from "./ingest-commits.ts";
import type { OpenLoopResult } from "./load.ts";
import { deliveryKey, HANG_PREFIX } from "./payloads.ts";
import type { DatabaseActivity } from "./postgres.ts";
import type { ArrivalReport } from "./receiver.ts";
import {
  check,
  type Deploy,
  type Figure,
  inParallel,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  sleep,
  target,
  toolReaders,
} from "./scenario.ts";
import { formatCount, formatMs, monoMs, round } from "./stats.ts";

/**
 * S4 and S5: events sent open loop — on a fixed schedule, whatever the server
 * answers — each stamped with its scheduled send time; latency is measured at
 * the receiver from that time, so a slow answer never hides the events that
 * would have been sent meanwhile (no coordinated omission).
 *
 * Each endpoint subscribes to an event type of its own and event i has type
 * i mod n, so the rate is spread evenly and every event is one delivery.
 */

const OK_PREFIX = "/ok/";

export interface SteadyRun {
  load: OpenLoopResult;
  /** The expected deliveries (healthy endpoints only in S5). */
  report: ArrivalReport;
  /** Expected deliveries whose first arrival fell between the end of the warm-up and the last scheduled send, per second. */
  deliveredPerS: number | null;
  /** The share of the rate offered to the measured endpoints. */
  offeredPerS: number;
  /** From the last scheduled send until the last expected delivery arrived; null if some never did. */
  settleMs: number | null;
  cpu: CpuUse;
  /** The Hookline server's ingest commits over the open loop, from its /metrics (null for the ceiling). */
  commits: IngestCommits | null;
  /** On PostgreSQL: what Hookline's connections did during the open loop. */
  database: DatabaseActivity | null;
}

/**
 * Runs the open loop against `origin`, tells the receiver which deliveries to
 * expect (those whose type index passes `measured`), waits for them up to the
 * settle timeout and reports.
 */
export async function steadyRun(
  ctx: ScenarioContext,
  params: {
    label: string;
    origin: string;
    key: string;
    types: string[];
    pathOf: (typeIndex: number) => string;
    measured: (typeIndex: number) => boolean;
    durationMs: number;
    readCpu: () => number | null;
    otherCpu?: CpuReaders;
    /** A Hookline server's URL: its ingest commits are read from its /metrics over the run. */
    commitsOf?: string;
    watch?: () => { stop(): Promise<DatabaseActivity> } | null;
  },
): Promise<SteadyRun> {
  const { options, receiver } = ctx;
  await receiver.call("reset", null);
  const meter = cpuMeter(params.readCpu, params.otherCpu);
  const watch = params.watch?.() ?? null;
  const off = ctx.load.on(
    "progress",
    (data: { label: string; phase: string; elapsedMs: number; totalMs: number; events: number; answered: number }) => {
      if (data.label !== params.label) return;
      const seconds = `${(Math.min(data.elapsedMs, data.totalMs) / 1000).toFixed(0)}/${(data.totalMs / 1000).toFixed(0)} s`;
      ctx.progress(
        `${params.label}  ${data.phase} ${seconds}  sent ${formatCount(data.events)}, answered ${formatCount(data.answered)}`,
      );
    },
  );
  const commits = params.commitsOf === undefined ? null : commitMeter(params.commitsOf);
  meter.start();
  commits?.start();
  let load: OpenLoopResult;
  try {
    load = await ctx.load.call("openLoop", {
      label: params.label,
      origin: params.origin,
      key: params.key,
      rate: options.rate,
      warmupMs: options.steadyWarmupMs,
      durationMs: params.durationMs,
      types: params.types,
      connections: options.steadyConnections,
      answerTimeoutMs: options.settleTimeoutMs,
    });
  } finally {
    off();
  }
  meter.stop();
  commits?.stop();
  const database = watch ? await watch.stop() : null;

  const keys: string[] = [];
  for (const [i, id] of load.ids.entries()) {
    const type = load.typeIndex[i] as number;
    if (params.measured(type)) keys.push(deliveryKey(params.pathOf(type), id));
  }
  let ledger = await receiver.call("expect", { keys });
  const deadline = load.endMono + options.settleTimeoutMs;
  while (ledger.missing > 0 && monoMs() < deadline) {
    ctx.progress(`${params.label}  ${formatCount(ledger.delivered)}/${formatCount(ledger.published)} delivered`);
    await sleep(100);
    ledger = await receiver.call("ledger", null);
  }
  const report = await receiver.call("report", {
    prefix: OK_PREFIX,
    from: load.measureFromMono,
    to: load.endMono,
    schedFrom: load.measureFromMono,
    bucketMs: timelineBucketMs(params.durationMs),
  });
  const windowS = (load.endMono - load.measureFromMono) / 1000;
  const measuredTypes = params.types.filter((_, i) => params.measured(i)).length;
  return {
    load,
    report,
    deliveredPerS: report.arrivedInWindow !== null && windowS > 0 ? round(report.arrivedInWindow / windowS, 1) : null,
    offeredPerS: round((options.rate * measuredTypes) / params.types.length, 1),
    settleMs:
      report.ledger.missing === 0 && report.lastArrival !== null ? round(report.lastArrival - load.endMono, 1) : null,
    cpu: meter.result,
    commits: (await commits?.result()) ?? null,
    database,
  };
}

/** Problems that make a steady run invalid: events refused or unanswered, deliveries missing. */
function runProblems(who: string, run: SteadyRun, settleTimeoutMs: number): string[] {
  const problems: string[] = [];
  const { load, report } = run;
  const refused = Object.entries(load.errors);
  if (refused.length) problems.push(`${who}: events not accepted: ${refused.map(([k, n]) => `${k} ×${n}`).join(", ")}`);
  if (load.unanswered) {
    problems.push(
      `${who}: ${formatCount(load.unanswered)} events had no answer ${settleTimeoutMs / 1000} s after the last send (the sender gave up on them)`,
    );
  }
  const { published, delivered, missing } = report.ledger;
  if (published !== delivered + missing) problems.push(`${who}: published ≠ delivered + missing`);
  if (missing > 0) {
    problems.push(
      `${who}: ${formatCount(missing)} of ${formatCount(published)} deliveries had not arrived ${settleTimeoutMs / 1000} s after the last send`,
    );
  }
  return problems;
}

/** About ten buckets over a run, in whole seconds. */
function timelineBucketMs(durationMs: number): number {
  return Math.max(1000, Math.round(durationMs / 10_000) * 1000);
}

function runNotes(who: string, run: SteadyRun): string[] {
  const notes: string[] = [];
  const timeline = run.report.timeline;
  if (timeline?.length) {
    const step = (timeline[1]?.fromMs ?? 1000) / 1000;
    notes.push(
      `${who}: p99 by scheduled second (${step} s buckets): ${timeline.map((b) => formatMs(b.p99)).join(", ")} ms`,
    );
  }
  const { ledger } = run.report;
  if (ledger.duplicates) notes.push(`${who}: ${ledger.duplicates} duplicate deliveries (at-least-once allows them)`);
  if (ledger.unexpected) notes.push(`${who}: ${ledger.unexpected} requests the receiver did not expect`);
  const lag = run.load.sendLag;
  if (lag && lag.p99 > 5) {
    notes.push(
      `${who}: the load generator itself sent late (p99 ${formatMs(lag.p99)} ms, max ${formatMs(lag.max)} ms behind schedule); that wait is inside the latency`,
    );
  }
  return notes;
}

function ledgerNote(who: string, run: SteadyRun): string {
  const { published, delivered, missing, duplicates } = run.report.ledger;
  const settle = run.settleMs === null ? "" : `; last one arrived ${formatMs(run.settleMs)} ms after the last send`;
  return `${who} ledger: ${formatCount(run.load.scheduled)} events scheduled, ${formatCount(run.load.accepted)} accepted (202); ${formatCount(published)} deliveries expected = ${formatCount(delivered)} delivered + ${formatCount(missing)} missing; ${formatCount(duplicates)} duplicates${settle}`;
}

function steadyFigure(what: string, run: SteadyRun): Figure {
  return {
    what,
    eventsPerS: run.deliveredPerS,
    latency: run.report.latency,
    cpuPercent: run.cpu.percent,
    machineCpuPercent: run.cpu.machinePercent,
    details: {
      rate: run.load.rate,
      offeredPerS: run.offeredPerS,
      scheduled: run.load.scheduled,
      accepted: run.load.accepted,
      errors: run.load.errors,
      unanswered: run.load.unanswered,
      warmupMs: round(run.load.measureFromMono - run.load.startMono, 1),
      windowMs: round(run.load.endMono - run.load.measureFromMono, 1),
      arrivedInWindow: run.report.arrivedInWindow,
      settleMs: run.settleMs,
      ingestLatency: run.load.ingestLatency,
      sendLag: run.load.sendLag,
      ledger: run.report.ledger,
      ...(run.cpu.others ? { cpuByPart: run.cpu.others } : {}),
      ...(run.commits ? { ingestCommits: run.commits } : {}),
      ...(run.database ? { database: run.database } : {}),
    },
  };
}

async function createEndpoints(server: HooklineServer, urls: { url: string; type: string }[]) {
  await inParallel(urls, 8, async ({ url, type }) => {
    const response = await server.api("POST", "/v1/endpoints", { url, event_types: [type] });
    if (response.status !== 201)
      throw new Error(`creating an endpoint got ${response.status}: ${JSON.stringify(response.body)}`);
  });
}

const S4_TARGET = "p50 ≤ 5 ms, p99 ≤ 50 ms, nothing missing";
const S4_ENDPOINTS = 10;

/** S4: 5,000 events/s open loop for 60 s to 10 endpoints, end to end. */
export const s4 = steadyScenario("S4", "steady end to end: open loop to 10 endpoints", sqliteDeployment);

/** S4's open loop on any deployment (S4 on SQLite; the -pg variants with 1 or 2 workers). */
export function steadyScenario(name: string, title: string, deploy: Deploy): Scenario {
  return { name, title, target: S4_TARGET, run: (ctx) => runSteady(ctx, name, deploy) };
}

/** One open loop through a relay ceiling, checked like Hookline's run: its problems and notes beside it. */
async function relayRun(
  ctx: ScenarioContext,
  name: string,
  types: string[],
  pathOf: (i: number) => string,
  durable: boolean,
): Promise<{ run: SteadyRun; problems: string[]; notes: string[] }> {
  const who = durable ? "durable ceiling" : "ceiling";
  const relay = await ctx.startRelay(durable);
  let run: SteadyRun;
  let stats: Awaited<ReturnType<typeof relay.worker.call<"relayStats">>>;
  try {
    run = await steadyRun(ctx, {
      label: `${name}/${durable ? "durable-ceiling" : "ceiling"}`,
      origin: relay.url,
      key: "bench",
      types,
      pathOf,
      measured: () => true,
      durationMs: ctx.options.relayDurationMs,
      readCpu: () => relay.worker.cpuSeconds(),
      otherCpu: { relay: () => relay.worker.cpuSeconds(), ...toolReaders(ctx) },
    });
    stats = await relay.worker.call("relayStats", null);
  } finally {
    await ctx.receiver.call("reset", null);
    await relay.worker.stop();
  }
  const problems = runProblems(who, run, ctx.options.settleTimeoutMs);
  if (Object.keys(stats.errors).length) problems.push(`${who}: relay errors ${JSON.stringify(stats.errors)}`);
  const notes = [ledgerNote(who, run), ...runNotes(who, run)];
  if (durable) {
    notes.push(
      `${who}: the relay committing each event to SQLite (synchronous=FULL) before its 202, one commit per event-loop turn on its one thread: ${formatCount(run.deliveredPerS)}/s, ${latencyText(run.report.latency)} ms`,
    );
  }
  notes.push(...processNotes(run.cpu, null, { who, per: { ratePerS: run.deliveredPerS, unit: "event" } }));
  return { run, problems, notes };
}

async function runSteady(
  ctx: ScenarioContext,
  name: string,
  deploy: Deploy,
): Promise<Omit<ScenarioResult, "elapsedS">> {
  const { options } = ctx;
  const types = Array.from({ length: S4_ENDPOINTS }, (_, i) => `bench.s4.${i}`);
  const pathOf = (i: number) => `${OK_PREFIX}${types[i]}`;

  const relay = await relayRun(ctx, name, types, pathOf, false);
  const durableRelay = await relayRun(ctx, name, types, pathOf, true);

  const deployment = await deploy(ctx, name);
  const server = deployment.api;
  let hooklineRun: SteadyRun;
  const notes: string[] = [];
  try {
    await createEndpoints(
      server,
      types.map((type, i) => ({ url: ctx.receiverUrl + pathOf(i), type })),
    );
    hooklineRun = await steadyRun(ctx, {
      label: `${name}/hookline`,
      origin: server.url,
      key: server.testKey,
      types,
      pathOf,
      measured: () => true,
      durationMs: options.steadyDurationMs,
      readCpu: () => deployment.cpuSeconds(),
      otherCpu: { ...deployment.cpuByPart, ...toolReaders(ctx) },
      commitsOf: server.url,
      watch: () => deployment.watchDatabase(),
    });
  } finally {
    await ctx.receiver.call("reset", null);
    notes.push(...(await deployment.stop()));
  }

  const problems = [
    ...runProblems("Hookline", hooklineRun, options.settleTimeoutMs),
    ...relay.problems,
    ...durableRelay.problems,
  ];
  notes.push(ledgerNote("Hookline", hooklineRun), ...runNotes("Hookline", hooklineRun));
  const ingest = hooklineRun.load.ingestLatency;
  if (ingest) {
    notes.push(
      `Hookline ingest (scheduled send → 202): p50 ${formatMs(ingest.p50)} / p99 ${formatMs(ingest.p99)} / max ${formatMs(ingest.max)} ms`,
    );
  }
  notes.push(
    ...commitNote(hooklineRun.commits),
    ...processNotes(hooklineRun.cpu, hooklineRun.database, {
      per: { ratePerS: hooklineRun.deliveredPerS, unit: "event" },
    }),
  );
  if (relay.run.load.scheduled !== hooklineRun.load.scheduled) {
    notes.push(
      `the ceilings ran ${options.relayDurationMs / 1000} s at the same rate (their latency settles within seconds)`,
    );
  }
  notes.push(...relay.notes, ...durableRelay.notes);

  const hookline = steadyFigure(`${deployment.what}: POST /v1/events → dispatcher → receiver`, hooklineRun);
  const ceiling = steadyFigure("bare node:http relay: parse, 202, undici POST to the receiver (no store)", relay.run);
  ceiling.details.durable = steadyFigure(
    "the same relay, each event committed to SQLite (synchronous=FULL) before its 202, one commit per event-loop turn",
    durableRelay.run,
  );
  const latency = hooklineRun.report.latency;
  const r =
    hooklineRun.deliveredPerS && relay.run.deliveredPerS
      ? round(hooklineRun.deliveredPerS / relay.run.deliveredPerS, 3)
      : null;
  const onPostgres = "postgres" in deployment.cpuByPart;
  const result: Omit<ScenarioResult, "elapsedS"> = {
    name,
    title: `steady: ${formatCount(options.rate)} events/s open loop for ${options.steadyDurationMs / 1000} s (after a ${options.steadyWarmupMs / 1000} s ramp-up, not measured), ${S4_ENDPOINTS} endpoints (one event type each), 1 KiB events, latency = arrival at the receiver − scheduled send${onPostgres ? `; ${deployment.what}` : ""}`,
    status: problems.length ? "FAILED" : "ok",
    hookline,
    ceiling,
    ratio: r,
    display: {
      hookline: `${formatCount(hookline.eventsPerS)} deliveries/s`,
      ceiling: `${formatCount(ceiling.eventsPerS)}/s, ${latencyText(ceiling.latency)} ms; durable: ${latencyText(durableRelay.run.report.latency)} ms`,
    },
    latency,
    target: target(S4_TARGET, [
      check("p50", latency?.p50, "≤", 5, "ms"),
      check("p99", latency?.p99, "≤", 50, "ms"),
      check("missing", hooklineRun.report.ledger.missing, "≤", 0),
    ]),
    ledger: hooklineRun.report.ledger,
    problems,
    notes,
  };
  return result;
}

const S5_TARGET = "healthy endpoints keep ≥ 95 % of S4 throughput, p99 ≤ 2 × S4";
const S5_ENDPOINTS = 100;
const S5_HANGING = 10;

/** S5: S4's load spread over 100 endpoints, 10 of which never answer. */
export const s5: Scenario = {
  name: "S5",
  title: "isolation: 100 endpoints, 10 hang until the attempt timeout",
  target: S5_TARGET,
  async run(ctx) {
    const { options } = ctx;
    const types = Array.from({ length: S5_ENDPOINTS }, (_, i) => `bench.s5.${i}`);
    const hangs = (i: number) => i < S5_HANGING;
    const pathOf = (i: number) => `${hangs(i) ? HANG_PREFIX : OK_PREFIX}${types[i]}`;

    const server = await ctx.startHookline("S5", { HOOKLINE_ATTEMPT_TIMEOUT: options.hangTimeout });
    let run: SteadyRun;
    const notes: string[] = [];
    try {
      await createEndpoints(
        server,
        types.map((type, i) => ({ url: ctx.receiverUrl + pathOf(i), type })),
      );
      run = await steadyRun(ctx, {
        label: "S5/hookline",
        origin: server.url,
        key: server.testKey,
        types,
        pathOf,
        measured: (i) => !hangs(i),
        durationMs: options.steadyDurationMs,
        readCpu: () => server.cpuSeconds(),
        otherCpu: { ...server.cpuByThread, ...toolReaders(ctx) },
        commitsOf: server.url,
      });
    } finally {
      // Drop the hanging requests first, so the server's graceful stop does not wait for them.
      await ctx.receiver.call("reset", null);
      const exit = await server.stop();
      if (exit !== 0) notes.push(`the Hookline server exited with ${exit} when stopped`);
    }

    const problems = runProblems("Hookline (healthy endpoints)", run, options.settleTimeoutMs);
    notes.push(ledgerNote("Hookline (healthy endpoints)", run), ...runNotes("Hookline", run));
    notes.push(
      ...commitNote(run.commits),
      ...processNotes(run.cpu, null, { per: { ratePerS: run.deliveredPerS, unit: "healthy delivery" } }),
    );
    notes.push(
      `hanging endpoints: ${S5_HANGING} × at most 20 attempts in flight, attempt timeout ${options.hangTimeout}; they received ${formatCount(run.report.ledger.hung)} requests (their events then wait for the next hourly retry)`,
    );

    const s4 = ctx.previous.get("S4");
    const s4Rate = s4?.hookline?.eventsPerS ?? null;
    const s4Offered = (s4?.hookline?.details.offeredPerS as number | undefined) ?? null;
    const s4P99 = s4?.latency?.p99 ?? null;
    // With the same total rate over 100 endpoints, the 90 healthy ones are offered 90 % of it:
    // compare the share of the offered rate each run delivered.
    const share = run.deliveredPerS !== null ? run.deliveredPerS / run.offeredPerS : null;
    const s4Share = s4Rate && s4Offered ? s4Rate / s4Offered : null;
    const throughputRatio = share !== null && s4Share ? round(share / s4Share, 3) : null;
    const p99 = run.report.latency?.p99 ?? null;
    if (!s4) notes.push("S4 did not run before S5, so there is no reference: run them together");
    else if (s4.status !== "ok") notes.push("S4's run FAILED its ledger; its figures are still the reference");
    if (s4 && s4.target.pass === false) {
      notes.push(
        `S4 itself missed its target (delivered ${formatCount(s4Rate)}/s of ${formatCount(s4Offered)}/s offered, p99 ${formatMs(s4P99)} ms): compared with a saturated S4, this says little about isolation`,
      );
    }

    const hookline = steadyFigure(
      `hookline serve, ${S5_ENDPOINTS - S5_HANGING} healthy endpoints (${S5_HANGING} more hang)`,
      run,
    );
    const p99Check = check("p99", p99, "≤", s4P99 !== null ? 2 * s4P99 : 0, "ms");
    if (s4P99 === null) p99Check.pass = null;
    const result: Omit<ScenarioResult, "elapsedS"> = {
      name: "S5",
      title: `isolation: ${formatCount(options.rate)} events/s open loop for ${options.steadyDurationMs / 1000} s (after a ${options.steadyWarmupMs / 1000} s ramp-up) over ${S5_ENDPOINTS} endpoints, ${S5_HANGING} never answer (attempt timeout ${options.hangTimeout}); figures for the ${S5_ENDPOINTS - S5_HANGING} healthy ones (offered ${formatCount(run.offeredPerS)}/s)`,
      status: problems.length ? "FAILED" : "ok",
      hookline,
      ceiling: null,
      ratio: throughputRatio,
      display: {
        hookline: `${formatCount(hookline.eventsPerS)} deliveries/s`,
        ceiling: s4Rate ? `S4: ${formatCount(s4Rate)}/s, p99 ${formatMs(s4P99)} ms` : "S4: –",
      },
      latency: run.report.latency,
      target: target(S5_TARGET, [
        check("delivered share of offered, vs S4's", throughputRatio, "≥", 0.95, "×"),
        p99Check,
      ]),
      ledger: run.report.ledger,
      problems,
      notes,
    };
    return result;
  },
};

function latencyText(summary: { p50: number; p99: number } | null | undefined): string {
  return summary ? `p50 ${formatMs(summary.p50)} / p99 ${formatMs(summary.p99)}` : "–";
}
