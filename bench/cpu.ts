import { readFileSync } from "node:fs";
import { round } from "./stats.ts";

/** Linux reports CPU time in USER_HZ, which is 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far, from /proc; null where that is not available. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
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
}

/** Measures CPU use of one process, and of the machine, between `start` and `stop`. */
export function cpuMeter(read: () => number | null) {
  let startCpu: number | null = null;
  let startMachine: ReturnType<typeof machineCpu> = null;
  let startWall = 0;
  const result: CpuUse = { percent: null, machinePercent: null };
  return {
    start() {
      startCpu = read();
      startMachine = machineCpu();
      startWall = performance.now();
    },
    stop(): CpuUse {
      const cpu = read();
      const machine = machineCpu();
      const wall = (performance.now() - startWall) / 1000;
      if (cpu !== null && startCpu !== null && wall > 0) result.percent = round(((cpu - startCpu) / wall) * 100, 0);
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
