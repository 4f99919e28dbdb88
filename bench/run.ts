import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { killAllChildrenNow, stopAllChildren, Worker } from "./child-process.ts";
import { drain } from "./drain-scenario.ts";
import { startHooklineServer } from "./hookline-server.ts";
import { ingestBatch, ingestSingle } from "./ingest-scenarios.ts";
import type { LoadApi } from "./load.ts";
import type { ReceiverApi } from "./receiver.ts";
import { type BenchReport, formatTable, gitRevision, loadAverage, machineInfo, writeReport } from "./report.ts";
import type { BenchOptions, Scenario, ScenarioContext, ScenarioResult } from "./scenario.ts";
import { formatCount, formatRatio } from "./stats.ts";

/**
 * `npm run bench [-- --quick]`: starts Hookline, a receiver, a load generator
 * and the ceiling servers as separate processes on 127.0.0.1, runs the
 * scenarios, prints a table and writes bench/results/<timestamp>.json.
 */

/** Every scenario, in the order they run. Add new ones here. */
const SCENARIOS: readonly Scenario[] = [ingestSingle, ingestBatch, drain];

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const ROOT = here("..");

const USAGE = `Usage: npm run bench -- [options]

  --quick                  smoke run, about 30 s (3 s per measurement, 2,000-event drain)
  --only <a,b>             run only these scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}
  --duration <s>           measured seconds per fixed-duration scenario (default 10; quick 3)
  --warmup <s>             unmeasured seconds before each of them (default 1; quick 0.5)
  --connections <n>        ingest connections (default 50)
  --batch-size <n>         events per batch call (default 100)
  --drain-events <n>       deliveries queued before the drain (default 20000; quick 2000)
  --delivery-connections <n>  Hookline's per-endpoint cap and the delivery ceiling's connections (default 20)
  --receiver-delay-ms <n>  the receiver answers after this delay (default 0)
  --drain-timeout <s>      give up on a drain after this long (default 120; quick 60)
  --profile                write a CPU profile of each Hookline server (node --cpu-prof) to bench/results/profiles/
  --results-dir <dir>      where the results JSON goes (default bench/results)
  -h, --help
`;

function parseOptions(argv: string[]): { options: BenchOptions; only: string[] | null; resultsDir: string } | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      "batch-size": { type: "string" },
      "drain-events": { type: "string" },
      "delivery-connections": { type: "string" },
      "receiver-delay-ms": { type: "string" },
      "drain-timeout": { type: "string" },
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
  const only = values.only ? values.only.split(",").map((name) => name.trim()) : null;
  for (const name of only ?? []) {
    if (!SCENARIOS.some((s) => s.name === name)) throw new Error(`--only: no scenario "${name}"`);
  }
  const options: BenchOptions = {
    quick,
    durationMs: number("duration", values.duration, quick ? 3 : 10, 0.1) * 1000,
    warmupMs: number("warmup", values.warmup, quick ? 0.5 : 1, 0) * 1000,
    ingestConnections: Math.round(number("connections", values.connections, 50, 1)),
    batchSize: Math.round(number("batch-size", values["batch-size"], 100, 1)),
    drainEvents: Math.round(number("drain-events", values["drain-events"], quick ? 2000 : 20_000, 1)),
    deliveryConnections: Math.round(number("delivery-connections", values["delivery-connections"], 20, 1)),
    receiverDelayMs: number("receiver-delay-ms", values["receiver-delay-ms"], 0, 0),
    drainTimeoutMs: number("drain-timeout", values["drain-timeout"], quick ? 60 : 120, 1) * 1000,
    profileDir: values.profile ? join(resultsDir, "profiles") : null,
  };
  if (options.batchSize > 1000) throw new Error("--batch-size must be at most 1000 (the API's limit)");
  return { options, only, resultsDir };
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
  const { options, only, resultsDir } = parsed;
  const selected = SCENARIOS.filter((s) => !only || only.includes(s.name));

  const tempRoot = mkdtempSync(join(tmpdir(), "hookline-bench-"));
  // Whatever happens, no process of ours and no data dir outlives the run.
  process.on("exit", () => {
    killAllChildrenNow();
    rmSync(tempRoot, { recursive: true, force: true });
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every benchmark process`);
      void stopAllChildren(2000).finally(() => process.exit(130));
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

  let ingestCeiling: ReturnType<ScenarioContext["ingestCeiling"]> | null = null;
  let servers = 0;
  const ctx: ScenarioContext = {
    options,
    receiver,
    receiverUrl,
    load,
    ingestCeiling() {
      ingestCeiling ??= (async () => {
        const worker = new Worker<Record<string, never>>("ingest ceiling server", here("./ingest-ceiling-server.ts"));
        const { url } = await worker.next<{ url: string }>("ready");
        return { url, worker };
      })();
      return ingestCeiling;
    },
    startHookline(label, env = {}) {
      const name = `hookline-${++servers}-${label.replaceAll(/[^\w-]/g, "_")}`;
      const profile = options.profileDir
        ? ["--cpu-prof", "--cpu-prof-dir", options.profileDir, "--cpu-prof-name", `${name}.cpuprofile`]
        : [];
      return startHooklineServer({ dataDir: join(tempRoot, name), env, nodeArgs: profile });
    },
    progress,
    log,
  };

  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    log(`${scenario.name}: ${scenario.title}`);
    let result: ScenarioResult;
    try {
      result = await scenario.run(ctx);
    } catch (error) {
      result = {
        name: scenario.name,
        title: scenario.title,
        status: "FAILED",
        hookline: null,
        ceiling: null,
        ratio: null,
        problems: [(error as Error).stack ?? String(error)],
        notes: [],
      };
    }
    results.push(result);
    log(
      `${scenario.name}: ${result.status}  Hookline ${formatCount(result.hookline?.eventsPerS)} events/s, ` +
        `ceiling ${formatCount(result.ceiling?.eventsPerS)} events/s (${formatRatio(result.ratio)})`,
    );
  }
  await stopAllChildren();

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
    results,
  };
  process.stdout.write(`\n${formatTable(report)}\n\n`);
  const path = writeReport(resultsDir, report);
  log(`${status === "ok" ? "done" : "FAILED"} in ${report.durationS} s; results in ${path}`);
  if (options.profileDir) log(`CPU profiles in ${options.profileDir}`);
  return status === "ok" ? 0 : 1;
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
