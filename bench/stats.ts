/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of `samples` (milliseconds); null when there are none. */
export function summarize(samples: readonly number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    p50: round(at(50), 2),
    p90: round(at(90), 2),
    p99: round(at(99), 2),
    max: round(sorted[sorted.length - 1] as number, 2),
    mean: round(sum / sorted.length, 2),
  };
}

export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** 12345.6 → "12,346". */
export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : Math.round(value).toLocaleString("en-US");
}

/** 3.456 → "3.46"; null → "–". */
export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** A ratio as a percentage, to a tenth: whole percents showed 0.496 as "50%" beside a missed ≥ 50% target. */
export function formatRatio(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between the benchmark's processes. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), with sub-microsecond
 * resolution. Unlike performance.now(), whose origin is each process's start,
 * this clock is the same in every process on the machine: the load generator
 * stamps an event's scheduled send time with it and the receiver subtracts it
 * from the arrival time. It does not follow wall-clock (NTP) adjustments.
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
