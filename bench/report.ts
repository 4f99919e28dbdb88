import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { BenchOptions, ScenarioResult } from "./scenario.ts";
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
  results: ScenarioResult[];
}

/** Writes the report to `<dir>/<timestamp>.json` and returns the path. */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${report.date.replaceAll(":", "-").replace(/\.\d+Z$/, "Z")}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/** The final table: one row per scenario, Hookline's figure beside its ceiling. */
export function formatTable(report: BenchReport): string {
  const header = [
    "scenario",
    "Hookline events/s",
    "ceiling events/s",
    "ratio",
    "Hookline p50/p99 ms",
    "ceiling p50/p99 ms",
    "CPU Hookline/ceiling",
    "machine busy",
    "status",
  ];
  const rows = report.results.map((r) => [
    r.name,
    formatCount(r.hookline?.eventsPerS),
    formatCount(r.ceiling?.eventsPerS),
    formatRatio(r.ratio),
    latency(r.hookline?.latency),
    latency(r.ceiling?.latency),
    `${percent(r.hookline?.cpuPercent)} / ${percent(r.ceiling?.cpuPercent)}`,
    `${percent(r.hookline?.machineCpuPercent)} / ${percent(r.ceiling?.machineCpuPercent)}`,
    r.status,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  const numeric = new Set([1, 2, 3, 4, 5, 6, 7]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number)))
      .join("  ");
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];

  out.push("");
  for (const r of report.results) {
    out.push(`${r.name}: ${r.title}`);
    if (r.hookline) out.push(`  Hookline: ${r.hookline.what}`);
    if (r.ceiling) out.push(`  ceiling:  ${r.ceiling.what}`);
    for (const problem of r.problems) out.push(`  FAILED: ${problem}`);
    for (const note of r.notes) out.push(`  note: ${note}`);
  }
  const m = report.machine;
  out.push(
    "",
    `${m.cpus} × ${m.cpuModel}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node}, ${m.platform} ${m.release}; ${report.date}; git ${report.git ?? "?"}`,
    "CPU: % of one core used by the process doing the work (the server, or the ceiling's sender) over the measured window;",
    "machine busy: % of all cores busy over the same window (everything on the host, the benchmark's own processes included).",
  );
  const [startLoad] = m.loadAverageAtStart;
  if (startLoad !== undefined && startLoad > m.cpus / 2) {
    out.push(
      `WARNING: load average ${startLoad} at start on ${m.cpus} cores: other work was running, figures are noisy.`,
    );
  }
  return out.join("\n");
}

function latency(summary: { p50: number; p99: number } | null | undefined): string {
  return summary ? `${formatMs(summary.p50)} / ${formatMs(summary.p99)}` : "–";
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${value}%`;
}
