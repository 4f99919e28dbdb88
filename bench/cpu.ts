import { readdirSync, readFileSync } from "node:fs";
import { round } from "./stats.ts";

/** Linux reports CPU time in USER_HZ, which is 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; null where that is not available. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  const stat = procStat(pid);
  return stat ? (stat.utime + stat.stime) / CLOCK_TICKS_PER_SECOND : null;
}

/** The fields of /proc/<task>/stat the benchmark reads, in clock ticks; null when the process (or thread) is gone. */
function procStat(
  task: number | string,
): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } | null {
  try {
    const stat = readFileSync(`/proc/${task}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at field 3: ppid is field 4,
    // utime and stime 14 and 15, cutime and cstime (reaped children) 16 and 17.
    const fields = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    const [ppid, utime, stime, cutime, cstime] = [fields[1], fields[11], fields[12], fields[13], fields[14]];
    if (![ppid, utime, stime, cutime, cstime].every(Number.isFinite)) return null;
    return { ppid: ppid!, utime: utime!, stime: stime!, cutime: cutime!, cstime: cstime! };
  } catch {
    return null;
  }
}

/** The parts of a `hookline serve` process on SQLite whose CPU the benchmark reports apart. */
const SERVER_PARTS = ["HTTP thread", "store thread", "V8 helpers", "other threads"] as const;

/**
 * CPU seconds of each part of a Hookline server process, told apart by the names Node
 * gives its threads (/proc/<pid>/task/<tid>/comm): the main thread (HTTP, dispatcher),
 * the worker thread (the SQLite store), V8's helpers (GC, compilers), and the rest.
 */
export function serverThreadReaders(pid: number | undefined): CpuReaders {
  const partOf = (tid: string): (typeof SERVER_PARTS)[number] => {
    if (tid === String(pid)) return "HTTP thread";
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    } catch {
      return "other threads";
    }
    return name === "WorkerThread" ? "store thread" : name === "V8Worker" ? "V8 helpers" : "other threads";
  };
  const read = (part: (typeof SERVER_PARTS)[number]) => (): number | null => {
    if (pid === undefined) return null;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return null;
    }
    let ticks = 0;
    for (const tid of tids) {
      if (partOf(tid) !== part) continue;
      const stat = procStat(`${pid}/task/${tid}`);
      if (stat) ticks += stat.utime + stat.stime;
    }
    return ticks / CLOCK_TICKS_PER_SECOND;
  };
  return Object.fromEntries(SERVER_PARTS.map((part) => [part, read(part)]));
}

/**
 * CPU seconds a process and all its children have used so far: its own time, the
 * time of the children it has already reaped (cutime, cstime), and that of its live
 * children. For a server that forks a process per connection (PostgreSQL's
 * postmaster), this is the whole server, connections that came and went included.
 */
export function processTreeCpuSeconds(pid: number): number | null {
  const root = procStat(pid);
  if (!root) return null;
  let ticks = root.utime + root.stime + root.cutime + root.cstime;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || entry === String(pid)) continue;
    const child = procStat(entry);
    if (child?.ppid === pid) ticks += child.utime + child.stime;
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** Busy and total CPU seconds of the whole machine (all cores) so far, from /proc/stat. */
function machineCpu(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] as string;
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((sum, value) => sum + value, 0);
    // idle and iowait are the 4th and 5th counters.
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return { busy: (total - idle) / CLOCK_TICKS_PER_SECOND, total: total / CLOCK_TICKS_PER_SECOND };
  } catch {
    return null;
  }
}

export interface CpuUse {
  /** The measured process, in % of one core. */
  percent: number | null;
  /** The whole machine, in % of all cores. */
  machinePercent: number | null;
  /** Other processes measured over the same window (each node of a deployment, PostgreSQL), in % of one core. */
  others?: Record<string, number | null>;
}

/** CPU seconds used so far by each named process (or process tree). */
export type CpuReaders = Record<string, () => number | null>;

/**
 * Measures CPU use of one process (or several, summed by `read`), and of the
 * machine, between `start` and `stop`; `others` are measured over the same window.
 */
export function cpuMeter(read: () => number | null, others: CpuReaders = {}) {
  let startCpu: number | null = null;
  let startOthers: Record<string, number | null> = {};
  let startMachine: ReturnType<typeof machineCpu> = null;
  let startWall = 0;
  const result: CpuUse = { percent: null, machinePercent: null };
  const percent = (from: number | null, to: number | null, wall: number) =>
    from !== null && to !== null && wall > 0 ? round(((to - from) / wall) * 100, 0) : null;
  return {
    start() {
      startCpu = read();
      startOthers = Object.fromEntries(Object.entries(others).map(([name, readOther]) => [name, readOther()]));
      startMachine = machineCpu();
      startWall = performance.now();
    },
    stop(): CpuUse {
      const cpu = read();
      const ends = Object.fromEntries(Object.entries(others).map(([name, readOther]) => [name, readOther()]));
      const machine = machineCpu();
      const wall = (performance.now() - startWall) / 1000;
      result.percent = percent(startCpu, cpu, wall);
      if (Object.keys(others).length) {
        result.others = Object.fromEntries(
          Object.keys(others).map((name) => [name, percent(startOthers[name] ?? null, ends[name] ?? null, wall)]),
        );
      }
      if (machine && startMachine && machine.total > startMachine.total) {
        result.machinePercent = round(
          ((machine.busy - startMachine.busy) / (machine.total - startMachine.total)) * 100,
          0,
        );
      }
      return result;
    },
    result,
  };
}

/** Resident memory of a process now (VmRSS) and at its peak (VmHWM), in bytes, from /proc; null where unavailable. */
export function memoryOf(pid: number | undefined): { rssBytes: number; peakRssBytes: number } | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    const rss = kib("VmRSS");
    const peak = kib("VmHWM");
    return Number.isFinite(rss) ? { rssBytes: rss * 1024, peakRssBytes: peak * 1024 } : null;
  } catch {
    return null;
  }
}
