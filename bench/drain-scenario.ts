import { cpus } from "node:os";
import { type CpuReaders, type CpuUse, cpuMeter } from "./cpu.ts";
import { processNotes, sqliteDeployment } from "./deployment.ts";
import { type DrainCeiling, measureDrainCeiling } from "./drain-ceiling.ts";
import { deliveryKey } from "./payloads.ts";
import type { DatabaseActivity } from "./postgres.ts";
import type { Ledger } from "./receiver.ts";
import {
  check,
  type Deploy,
  type Figure,
  ratio,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  sleep,
  target,
  toolReaders,
} from "./scenario.ts";
import { formatCount, round } from "./stats.ts";

const WEBHOOK_PATH = "/webhooks";
/** After the last expected id arrived, wait this long for late duplicates before reading the ledger. */
const DUPLICATE_GRACE_MS = 1000;

interface DrainRun {
  ledger: Ledger;
  elapsedMs: number | null;
  eventsPerS: number | null;
  cpu: CpuUse;
  timedOut: boolean;
  heldAtStart: number;
  /** On PostgreSQL: what Hookline's connections did during the drain. */
  database: DatabaseActivity | null;
}

const TARGET = "≥ 0.5 × raw undici ceiling";

/**
 * S3, drain: a backlog of due deliveries to one fast endpoint, measured from the moment
 * the receiver starts answering until it has answered every published id.
 * While the backlog loads, the receiver holds its answers, so the dispatcher
 * fills its per-endpoint cap and the rest waits in the store as due rows.
 * The ceiling is the same drain done by raw undici requests with as many
 * connections as Hookline had requests in flight when the receiver started
 * answering (its per-endpoint cap).
 */
export const s3 = drainScenario("S3", "drain: due deliveries to one fast endpoint", sqliteDeployment, {
  budget: true,
});

/**
 * The drain on any deployment (S3 on SQLite; the -pg variants with 1 or 2 workers).
 * `budget`: also measure the embedded store's own drain limit and note the CPU budget at the target.
 */
export function drainScenario(name: string, title: string, deploy: Deploy, { budget = false } = {}): Scenario {
  return {
    name,
    title,
    target: TARGET,
    run: (ctx) => runDrain(ctx, name, deploy, budget),
  };
}

async function runDrain(
  ctx: ScenarioContext,
  name: string,
  deploy: Deploy,
  withBudget: boolean,
): Promise<Omit<ScenarioResult, "elapsedS">> {
  const { options, receiver } = ctx;
  const count = options.drainEvents;
  const cap = options.deliveryConnections;
  const problems: string[] = [];
  const notes: string[] = [];

  await receiver.call("reset", null);
  await receiver.call("hold", null);
  const deployment = await deploy(ctx, name, {
    HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT: String(cap),
    // The first deliveries wait at the holding receiver while the backlog loads: they must not time out.
    HOOKLINE_ATTEMPT_TIMEOUT: "120s",
    HOOKLINE_LEASE: "180s",
  });
  const server = deployment.api;
  let hooklineRun: DrainRun;
  let preload: { ids: string[]; elapsedMs: number };
  let database: DatabaseActivity | null = null;
  const sample: Record<string, unknown> = {};
  try {
    const endpoint = await server.api("POST", "/v1/endpoints", { url: ctx.receiverUrl + WEBHOOK_PATH });
    if (endpoint.status !== 201)
      throw new Error(`creating the endpoint got ${endpoint.status}: ${JSON.stringify(endpoint.body)}`);
    ctx.progress(`${name}/hookline  loading ${formatCount(count)} events`);
    preload = await ctx.load.call("publish", {
      origin: server.url,
      key: server.testKey,
      count,
      batchSize: options.batchSize,
      connections: 4,
    });
    await receiver.call("expect", { keys: preload.ids.map((id) => deliveryKey(WEBHOOK_PATH, id)) });
    hooklineRun = await drainRun(ctx, `${name}/hookline`, count, Math.min(cap, count), () => deployment.cpuSeconds(), {
      others: { ...deployment.cpuByPart, ...toolReaders(ctx) },
      // Several processes may together hold more than one's cap: wait until the number held stops growing.
      settleMs: deployment.deliverers > 1 ? 1000 : 0,
      watch: () => deployment.watchDatabase(),
    });
    database = hooklineRun.database;
    // Hookline's own record must agree with the receiver: look at a few events through the API.
    for (const id of [preload.ids[0], preload.ids[preload.ids.length - 1]]) {
      if (id) sample[id] = await settledStatus(server, id);
    }
  } finally {
    notes.push(...(await deployment.stop()));
  }
  for (const [id, status] of Object.entries(sample)) {
    if (status !== "succeeded") notes.push(`Hookline reports ${id} as ${status}, not succeeded`);
  }

  // The ceiling sends with as many connections as Hookline had requests in flight (at least the cap).
  const connections = Math.max(cap, Math.min(hooklineRun.heldAtStart, count));
  await receiver.call("reset", null);
  await receiver.call("hold", null);
  const ids = Array.from({ length: count }, (_, i) => `msg_ceiling_${i}`);
  await receiver.call("expect", { keys: ids.map((id) => deliveryKey(WEBHOOK_PATH, id)) });
  const sending = ctx.load.call("deliver", { origin: ctx.receiverUrl, path: WEBHOOK_PATH, ids, connections });
  const ceilingRun = await drainRun(
    ctx,
    `${name}/ceiling`,
    count,
    Math.min(connections, count),
    () => ctx.load.cpuSeconds(),
    { others: toolReaders(ctx) },
  );
  const sent = await sending;

  for (const [who, run] of [
    ["Hookline", hooklineRun],
    ["ceiling", ceilingRun],
  ] as const) {
    const { published, delivered, missing, duplicates, unexpected } = run.ledger;
    if (published !== count) problems.push(`${who}: published ${published} of ${count}`);
    if (published !== delivered + missing) problems.push(`${who}: published ≠ delivered + missing`);
    if (missing > 0) problems.push(`${who}: ${missing} of ${published} never arrived`);
    if (run.timedOut) {
      problems.push(
        `${who}: not drained within ${options.drainTimeoutMs / 1000} s (${formatCount(run.ledger.answered)} answered by then: ${formatCount((run.ledger.answered * 1000) / options.drainTimeoutMs)}/s)`,
      );
    }
    if (duplicates > 0) notes.push(`${who}: ${duplicates} duplicate deliveries (at-least-once allows them)`);
    if (unexpected > 0) notes.push(`${who}: ${unexpected} requests with an unknown webhook-id`);
  }
  if (Object.keys(sent.errors).length) problems.push(`ceiling: failed requests ${JSON.stringify(sent.errors)}`);
  notes.push(
    `the backlog went in through POST /v1/events/batch (${options.batchSize} per call, 4 connections) at ${formatCount((count * 1000) / preload.elapsedMs)} events/s, each making one delivery`,
    ...processNotes(hooklineRun.cpu, hooklineRun.database, {
      per: { ratePerS: hooklineRun.eventsPerS, unit: "delivery" },
    }),
    ...processNotes(ceilingRun.cpu, null, {
      who: "ceiling (the load generator sends)",
      per: { ratePerS: ceilingRun.eventsPerS, unit: "request" },
    }),
  );

  const hookline: Figure = {
    what: `${deployment.what} → receiver, max_in_flight ${cap}`,
    eventsPerS: hooklineRun.eventsPerS,
    latency: null,
    cpuPercent: hooklineRun.cpu.percent,
    machineCpuPercent: hooklineRun.cpu.machinePercent,
    details: {
      ...runDetails(hooklineRun),
      preloadMs: preload.elapsedMs,
      preloadEventsPerS: round((count * 1000) / preload.elapsedMs, 1),
      apiStatusOfSampleEvents: sample,
      ...(hooklineRun.cpu.others ? { cpuByPart: hooklineRun.cpu.others } : {}),
      ...(database ? { database } : {}),
    },
  };
  const ceiling: Figure = {
    what: `raw undici.request → receiver, ${connections} connections`,
    eventsPerS: ceilingRun.eventsPerS,
    latency: sent.latency,
    cpuPercent: ceilingRun.cpu.percent,
    machineCpuPercent: ceilingRun.cpu.machinePercent,
    details: { ...runDetails(ceilingRun), senderErrors: sent.errors },
  };
  // Measured now, with the servers stopped: the store's part of a delivery, alone on one thread
  // (not in the quick run, which stays under a minute).
  if (withBudget && !options.quick) {
    const store = await measureDrainCeiling(40_000, 30);
    hookline.details.drainCeiling = store;
    notes.push(budgetNote(hooklineRun, ceilingRun, store));
  }
  const r = ratio(hookline, ceiling);
  return {
    name,
    title: `drain ${formatCount(count)} due deliveries (1 KiB events), 1 endpoint (cap ${cap}), receiver answers 204 after ${options.receiverDelayMs} ms${deployment.deliverers > 1 || deployment.cpuByPart.postgres ? `; ${deployment.what}` : ""}`,
    status: problems.length ? "FAILED" : "ok",
    hookline,
    ceiling,
    ratio: r,
    display: {
      hookline: `${formatCount(hookline.eventsPerS)} deliveries/s`,
      ceiling: `${formatCount(ceiling.eventsPerS)} requests/s`,
    },
    latency: null,
    target: target(TARGET, [check("Hookline / ceiling", r, "≥", 0.5, "×")]),
    ledger: hooklineRun.ledger,
    problems,
    notes,
  };
}

/**
 * What the target leaves for Hookline's own work: at half the ceiling's rate, the machine's cores
 * give so many µs of CPU per delivery to everything; the floors measured in this run (the store's
 * part alone, the ceiling's sender, the receiver as Hookline drove it) take their share first.
 */
function budgetNote(hooklineRun: DrainRun, ceilingRun: DrainRun, store: DrainCeiling): string {
  const perDelivery = (run: DrainRun, part: string) => {
    const percent = run.cpu.others?.[part];
    return percent === null || percent === undefined || !run.eventsPerS ? null : (percent * 10_000) / run.eventsPerS;
  };
  const sender = perDelivery(ceilingRun, "load generator");
  const receiver = perDelivery(hooklineRun, "receiver");
  const own = ["HTTP thread", "store thread", "V8 helpers", "other threads"].map((part) =>
    perDelivery(hooklineRun, part),
  );
  if (!ceilingRun.eventsPerS || sender === null || receiver === null || own.some((value) => value === null))
    return "CPU budget at the target: not measured (a figure is missing)";
  const atTarget = ceilingRun.eventsPerS / 2;
  const budget = (cpus().length * 1e6) / atTarget;
  const floors = store.cpuMicrosPerDelivery + sender + receiver;
  const hookline = own.reduce((sum, value) => (sum as number) + (value as number), 0) as number;
  const beyond = hookline - store.cpuMicrosPerDelivery - sender;
  return `CPU budget at the target: half the ceiling is ${formatCount(atTarget)} deliveries/s, where the ${cpus().length} cores give ${Math.round(budget)} µs per delivery to everything; the floors measured in this run take ${Math.round(floors)} of it (${Math.round((floors / budget) * 100)}%): the store's part alone ${store.cpuMicrosPerDelivery} (bench/drain-ceiling.ts, ${store.perCommit} a commit, one thread, no HTTP: ${formatCount(store.deliveriesPerS)}/s), the ceiling's sender ${Math.round(sender)}, the receiver ${Math.round(receiver)}; that leaves ${Math.round(budget - floors)} µs at 100% of the machine for the rest of Hookline's work (thread hand-offs, signing, dispatch, GC), which costs it ${Math.round(beyond)} now (${Math.round(hookline)} in all)`;
}

function runDetails(run: DrainRun) {
  return { elapsedMs: run.elapsedMs, heldAtStart: run.heldAtStart, timedOut: run.timedOut, ledger: run.ledger };
}

/**
 * Waits until the sender has `expectHeld` requests waiting at the receiver (and,
 * with `settleMs`, until that number has not grown for so long), releases them,
 * and measures until every expected id has been answered.
 */
async function drainRun(
  ctx: ScenarioContext,
  label: string,
  count: number,
  expectHeld: number,
  readCpu: () => number | null,
  more: {
    others?: CpuReaders;
    settleMs?: number;
    watch?: () => { stop(): Promise<DatabaseActivity> } | null;
  } = {},
): Promise<DrainRun> {
  const { receiver, options } = ctx;
  const settleBy = Date.now() + 15_000;
  let ledger = await receiver.call("ledger", null);
  while (ledger.held < expectHeld && Date.now() < settleBy) {
    await sleep(20);
    ledger = await receiver.call("ledger", null);
  }
  let grewAt = Date.now();
  while (more.settleMs && Date.now() - grewAt < more.settleMs && Date.now() < settleBy) {
    await sleep(50);
    const now = await receiver.call("ledger", null);
    if (now.held !== ledger.held) grewAt = Date.now();
    ledger = now;
  }
  const heldAtStart = ledger.held;

  const meter = cpuMeter(readCpu, more.others);
  const watch = more.watch?.() ?? null;
  const complete = receiver.next<{ completeAt: number }>("complete", options.drainTimeoutMs).then(
    () => true,
    () => false,
  );
  meter.start();
  const released = await receiver.call("release", null);
  const releasedAt = released.releasedAt as number;
  const progress = setInterval(async () => {
    const now = await receiver.call("ledger", null).catch(() => null);
    if (!now) return;
    const seconds = (Date.now() - releasedAt) / 1000;
    ctx.progress(
      `${label}  ${formatCount(now.answered)}/${formatCount(count)} answered  ${formatCount(now.answered / seconds)} events/s`,
    );
  }, 1000);
  const drained = await complete;
  meter.stop();
  const database = watch ? await watch.stop() : null;
  clearInterval(progress);
  if (drained) await sleep(DUPLICATE_GRACE_MS);
  ledger = await receiver.call("ledger", null);
  const elapsedMs = drained && ledger.completeAt !== null ? round(ledger.completeAt - releasedAt, 1) : null;
  return {
    ledger,
    elapsedMs,
    eventsPerS: elapsedMs ? round((count * 1000) / elapsedMs, 1) : null,
    cpu: meter.result,
    timedOut: !drained,
    heldAtStart,
    database,
  };
}

/** The delivery status Hookline reports for an event, once it is final (or after a few seconds). */
async function settledStatus(
  server: { api(method: "GET", path: string): Promise<{ status: number; body: any }> },
  eventId: string,
): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const response = await server.api("GET", `/v1/events/${eventId}/deliveries`);
    const status: string =
      response.status === 200 ? (response.body?.data?.[0]?.status ?? "none") : `http_${response.status}`;
    if (status === "succeeded" || status === "failed" || Date.now() > deadline) return status;
    await sleep(100);
  }
}
