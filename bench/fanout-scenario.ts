import { cpuMeter } from "./cpu.ts";
import { deliveryKey } from "./payloads.ts";
import type { ArrivalReport, Ledger } from "./receiver.ts";
import {
  check,
  type Figure,
  inParallel,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  sleep,
  target,
} from "./scenario.ts";
import { formatCount, formatMs, type LatencySummary, monoMs, round } from "./stats.ts";

const TARGET = "all 1,000 delivered within 1 s at p99";
const TYPE = "bench.fanout";
/** Hookline's default `concurrency`: the ceiling sends with as many connections. */
const HOOKLINE_CONCURRENCY = 512;
/** Give up on an event's fan-out after this long. */
const EVENT_TIMEOUT_MS = 30_000;
/** Quiet time between two events, so one fan-out does not overlap the next. */
const GAP_MS = 200;

interface FanoutRun {
  report: ArrivalReport;
  /** Per event: scheduled send → last arrival, ms (null when some never arrived). */
  perEventMs: (number | null)[];
  ledger: Ledger;
}

/**
 * S7, fan-out: one event to 1,000 endpoints (each its own path on the receiver),
 * a few events one after another; latency from the event's send to each arrival.
 * The ceiling fans out the same way with raw undici requests, as many
 * connections as Hookline's concurrency, timed from the start of the fan-out.
 */
export const s7: Scenario = {
  name: "S7",
  title: "fan-out: one event to 1,000 endpoints",
  target: TARGET,
  async run(ctx) {
    const { options, receiver } = ctx;
    const count = options.fanoutEndpoints;
    const paths = Array.from({ length: count }, (_, i) => `/ok/s7/${i}`);
    const problems: string[] = [];
    const notes: string[] = [];

    const server = await ctx.startHookline("S7");
    let hooklineRun: FanoutRun;
    const meter = cpuMeter(() => server.cpuSeconds());
    try {
      const setupStarted = performance.now();
      await inParallel(paths, 8, async (path, i) => {
        const response = await server.api("POST", "/v1/endpoints", {
          url: ctx.receiverUrl + path,
          event_types: [TYPE],
        });
        if (response.status !== 201) throw new Error(`creating endpoint ${i} got ${response.status}`);
      });
      ctx.log(
        `S7: ${formatCount(count)} endpoints created in ${round((performance.now() - setupStarted) / 1000, 1)} s`,
      );
      await receiver.call("reset", null);
      meter.start();
      hooklineRun = await fanout(ctx, "S7/hookline", paths, async () => {
        const sent = await ctx.load.call("sendOne", { origin: server.url, key: server.testKey, type: TYPE });
        return { id: sent.id, schedMs: sent.schedMs };
      });
      meter.stop();
    } finally {
      await receiver.call("reset", null);
      const exit = await server.stop();
      if (exit !== 0) notes.push(`the Hookline server exited with ${exit} when stopped`);
    }

    let seq = 0;
    const ceilingRun = await fanout(ctx, "S7/ceiling", paths, async () => {
      const id = `msg_fanout_${seq++}`;
      const schedMs = monoMs();
      void ctx.load
        .call("deliver", {
          origin: ctx.receiverUrl,
          path: paths,
          ids: paths.map(() => id),
          connections: HOOKLINE_CONCURRENCY,
          stamp: "start",
        })
        .then((sent) => {
          if (Object.keys(sent.errors).length) problems.push(`ceiling: failed requests ${JSON.stringify(sent.errors)}`);
        });
      return { id, schedMs };
    });
    await receiver.call("reset", null);

    for (const [who, run] of [
      ["Hookline", hooklineRun],
      ["ceiling", ceilingRun],
    ] as const) {
      const { published, delivered, missing, duplicates, unexpected } = run.ledger;
      if (published !== count * options.fanoutEvents) problems.push(`${who}: published ${published} deliveries`);
      if (published !== delivered + missing) problems.push(`${who}: published ≠ delivered + missing`);
      if (missing > 0) problems.push(`${who}: ${missing} of ${published} deliveries never arrived`);
      if (duplicates > 0) notes.push(`${who}: ${duplicates} duplicate deliveries (at-least-once allows them)`);
      if (unexpected > 0) notes.push(`${who}: ${unexpected} requests the receiver did not expect`);
      notes.push(
        `${who}: per event, send → last of ${formatCount(count)} arrivals: ${run.perEventMs.map((ms) => (ms === null ? "–" : formatMs(ms))).join(", ")} ms`,
      );
    }
    notes.push(
      `ledger: ${formatCount(hooklineRun.ledger.published)} deliveries published, ${formatCount(hooklineRun.ledger.delivered)} delivered, ${formatCount(hooklineRun.ledger.missing)} missing, ${hooklineRun.ledger.duplicates} duplicates`,
    );

    const latency = hooklineRun.report.latency;
    const ceilingLatency = ceilingRun.report.latency;
    const hookline: Figure = fanoutFigure(
      "hookline serve: POST /v1/events → 1,000 deliveries",
      hooklineRun,
      latency,
      meter.result,
    );
    const ceiling: Figure = fanoutFigure(
      `raw undici.request → receiver, ${HOOKLINE_CONCURRENCY} connections, timed from the start of the fan-out`,
      ceilingRun,
      ceilingLatency,
      { percent: null, machinePercent: null },
    );
    const r = latency && ceilingLatency && latency.p99 > 0 ? round(ceilingLatency.p99 / latency.p99, 3) : null;
    const result: Omit<ScenarioResult, "elapsedS"> = {
      name: "S7",
      title: `fan-out: one event to ${formatCount(count)} endpoints (distinct paths), ${options.fanoutEvents} events one after another; latency = send → arrival of each delivery (${formatCount(count * options.fanoutEvents)} arrivals)`,
      status: problems.length ? "FAILED" : "ok",
      hookline,
      ceiling,
      ratio: r,
      display: {
        hookline: `p99 ${formatMs(latency?.p99)} ms`,
        ceiling: `p99 ${formatMs(ceilingLatency?.p99)} ms`,
      },
      latency,
      target: target(TARGET, [check("p99", latency?.p99, "≤", 1000, "ms")]),
      ledger: hooklineRun.ledger,
      problems,
      notes,
    };
    return result;
  },
};

function fanoutFigure(
  what: string,
  run: FanoutRun,
  latency: LatencySummary | null,
  cpu: { percent: number | null; machinePercent: number | null },
): Figure {
  return {
    what,
    eventsPerS: null,
    latency,
    cpuPercent: cpu.percent,
    machineCpuPercent: cpu.machinePercent,
    details: { perEventMs: run.perEventMs, ledger: run.ledger },
  };
}

/** Sends `events` one after another, each expected on every path, and waits for each fan-out to finish. */
async function fanout(
  ctx: ScenarioContext,
  label: string,
  paths: string[],
  send: () => Promise<{ id: string; schedMs: number }>,
): Promise<FanoutRun> {
  const { receiver, options } = ctx;
  await receiver.call("reset", null);
  const perEventMs: (number | null)[] = [];
  for (let e = 0; e < options.fanoutEvents; e++) {
    const { id, schedMs } = await send();
    let ledger = await receiver.call("expect", { keys: paths.map((path) => deliveryKey(path, id)) });
    const deadline = schedMs + EVENT_TIMEOUT_MS;
    while (ledger.missing > 0 && monoMs() < deadline) {
      ctx.progress(
        `${label}  event ${e + 1}/${options.fanoutEvents}: ${formatCount(ledger.delivered)}/${formatCount(ledger.published)} arrived`,
      );
      await sleep(10);
      ledger = await receiver.call("ledger", null);
    }
    const one = await receiver.call("report", { suffix: ` ${id}` });
    perEventMs.push(one.ledger.missing === 0 && one.lastArrival !== null ? round(one.lastArrival - schedMs, 1) : null);
    await sleep(GAP_MS);
  }
  return {
    report: await receiver.call("report", {}),
    perEventMs,
    ledger: await receiver.call("ledger", null),
  };
}
