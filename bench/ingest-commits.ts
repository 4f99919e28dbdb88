import { request } from "undici";
import { formatCount, formatMs, round } from "./stats.ts";

/**
 * Ingest's group commits as a Hookline server counts them on /metrics
 * (hookline_ingest_commit_seconds, hookline_ingest_commit_events): read at the
 * start and the end of a measured window, the difference says how many commits
 * the window had, how many events each held and how long requests waited for them.
 * The same two readings give the HTTP thread's garbage-collection pauses
 * (prom-client's nodejs_gc_duration_seconds, which sees that thread's heap only).
 */

/** One reading of the two histograms, summed over their series. */
interface CommitReading {
  /** Cumulative count per bucket bound of the wait, in seconds (Infinity last). */
  waitBuckets: Map<number, number>;
  waitSum: number;
  commits: number;
  events: number;
  /** Pauses by GC kind (minor, major, incremental, …): how many, and their seconds in all. */
  gc: Map<string, { count: number; seconds: number }>;
}

export interface IngestCommits {
  commitsPerS: number;
  eventsPerCommit: number | null;
  /** Mean wait for a commit, and quantiles estimated from the buckets (as Prometheus' histogram_quantile does), in ms. */
  waitMs: { mean: number | null; p50: number | null; p90: number | null; p99: number | null };
  /** The HTTP thread's GC pauses over the window, by kind: how many, mean length, share of the window. */
  gc: { kind: string; pauses: number; meanMs: number; percentOfTime: number }[];
}

const SAMPLE =
  /^(hookline_ingest_commit_(?:seconds|events)_(?:bucket|sum|count)|nodejs_gc_duration_seconds_(?:sum|count))\{([^}]*)\} (\S+)$/;

/** Reads the server's /metrics; null when it does not answer or has no such metrics. */
export async function readCommits(origin: string): Promise<CommitReading | null> {
  let text: string;
  try {
    const response = await request(`${origin}/metrics`);
    if (response.statusCode !== 200) {
      await response.body.dump();
      return null;
    }
    text = await response.body.text();
  } catch {
    return null;
  }
  const reading: CommitReading = { waitBuckets: new Map(), waitSum: 0, commits: 0, events: 0, gc: new Map() };
  let seen = false;
  for (const line of text.split("\n")) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    seen = true;
    const [, name, labels, raw] = match as unknown as [string, string, string, string];
    const value = Number(raw);
    if (name.startsWith("nodejs_gc_")) {
      const kind = /kind="([^"]+)"/.exec(labels)?.[1] ?? "other";
      const pauses = reading.gc.get(kind) ?? { count: 0, seconds: 0 };
      if (name.endsWith("_count")) pauses.count += value;
      else pauses.seconds += value;
      reading.gc.set(kind, pauses);
    } else if (name === "hookline_ingest_commit_seconds_bucket") {
      const bound = /le="([^"]+)"/.exec(labels)?.[1] ?? "+Inf";
      const le = bound === "+Inf" ? Number.POSITIVE_INFINITY : Number(bound);
      reading.waitBuckets.set(le, (reading.waitBuckets.get(le) ?? 0) + value);
    } else if (name === "hookline_ingest_commit_seconds_sum") reading.waitSum += value;
    else if (name === "hookline_ingest_commit_seconds_count") reading.commits += value;
    else if (name === "hookline_ingest_commit_events_sum") reading.events += value;
  }
  return seen ? reading : null;
}

/** What happened between two readings `seconds` apart; null without both. */
export function commitsBetween(
  before: CommitReading | null,
  after: CommitReading | null,
  seconds: number,
): IngestCommits | null {
  if (!before || !after || seconds <= 0) return null;
  const commits = after.commits - before.commits;
  const buckets = [...after.waitBuckets]
    .map(([le, count]) => [le, count - (before.waitBuckets.get(le) ?? 0)] as const)
    .sort(([a], [b]) => a - b);
  const quantile = (q: number): number | null => {
    if (commits <= 0) return null;
    const rank = q * commits;
    let lower = 0;
    let below = 0;
    for (const [le, cumulative] of buckets) {
      if (cumulative >= rank) {
        // Past the last finite bound nothing is known but that bound.
        if (le === Number.POSITIVE_INFINITY) return lower * 1000;
        const inBucket = cumulative - below;
        return (lower + ((le - lower) * (rank - below)) / Math.max(inBucket, 1)) * 1000;
      }
      lower = le;
      below = cumulative;
    }
    return null;
  };
  return {
    commitsPerS: round(commits / seconds, 1),
    eventsPerCommit: commits > 0 ? round((after.events - before.events) / commits, 1) : null,
    waitMs: {
      mean: commits > 0 ? round(((after.waitSum - before.waitSum) / commits) * 1000, 2) : null,
      p50: roundOrNull(quantile(0.5)),
      p90: roundOrNull(quantile(0.9)),
      p99: roundOrNull(quantile(0.99)),
    },
    gc: [...after.gc].flatMap(([kind, { count, seconds: paused }]) => {
      const was = before.gc.get(kind) ?? { count: 0, seconds: 0 };
      const pauses = count - was.count;
      if (pauses <= 0) return [];
      const total = paused - was.seconds;
      return [
        {
          kind,
          pauses,
          meanMs: round((total / pauses) * 1000, 2),
          percentOfTime: round((total / seconds) * 100, 1),
        },
      ];
    }),
  };
}

/** A meter over one window: `start` and `stop` read the server; `result` after `stop`. */
export function commitMeter(origin: string) {
  let first: Promise<CommitReading | null> = Promise.resolve(null);
  let last: Promise<CommitReading | null> = Promise.resolve(null);
  let startedAt = 0;
  let seconds = 0;
  return {
    start() {
      startedAt = performance.now();
      first = readCommits(origin);
    },
    stop() {
      seconds = (performance.now() - startedAt) / 1000;
      last = readCommits(origin);
    },
    async result(): Promise<IngestCommits | null> {
      return commitsBetween(await first, await last, seconds);
    },
  };
}

/** The note a scenario prints. */
export function commitNote(commits: IngestCommits | null): string[] {
  if (!commits) return [];
  const { waitMs } = commits;
  const gc = commits.gc.map(
    (pauses) =>
      `${pauses.kind} ${formatCount(pauses.pauses)} × ${formatMs(pauses.meanMs)} ms (${pauses.percentOfTime}% of the time)`,
  );
  return [
    `ingest commits (the server's /metrics): ${formatCount(commits.commitsPerS)}/s, ${commits.eventsPerCommit ?? "–"} events each on average; requests waited for theirs ${formatMs(waitMs.mean)} ms on average, p50 ≈ ${formatMs(waitMs.p50)} / p90 ≈ ${formatMs(waitMs.p90)} / p99 ≈ ${formatMs(waitMs.p99)} ms (estimated from the histogram's buckets)`,
    ...(gc.length > 0 ? [`HTTP thread's GC pauses over the window (the server's /metrics): ${gc.join("; ")}`] : []),
  ];
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : round(value, 2);
}
