import { formatDuration, parseDuration } from "../durations.ts";
import { HooklineError } from "../errors.ts";

/** The seed's rule: after the first attempt, once an hour for the next 72 hours. */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = Object.freeze(Array(72).fill(3_600_000));

export const MAX_SCHEDULE_LENGTH = 200;
const MAX_DELAY_MS = 7 * 86_400_000;
const JITTER = 0.05;
/** Retry-After is honoured, but a receiver cannot push its retry further than this (nor past the schedule's end). */
const MAX_RETRY_AFTER_MS = 6 * 3_600_000;

/**
 * Parses a retry schedule: the delays between one failed attempt and the next.
 * `["5s","1m","1h"]` means four attempts in all. `"1h*72"` repeats an entry.
 */
export function parseRetrySchedule(entries: readonly string[]): number[] {
  const delays: number[] = [];
  for (const entry of entries) {
    const [duration, times = "1"] = entry.split("*");
    const count = Number(times);
    if (!Number.isInteger(count) || count < 1) {
      throw scheduleError(`"${entry}" has a bad repeat count`);
    }
    const ms = parseDuration(duration ?? "");
    if (ms > MAX_DELAY_MS) throw scheduleError(`"${entry}" is longer than 7 days`);
    // Checked before repeating: "1s*99999999999999999999" must not fill memory first.
    if (delays.length + count > MAX_SCHEDULE_LENGTH) {
      throw scheduleError(`a retry schedule has at most ${MAX_SCHEDULE_LENGTH} entries`);
    }
    for (let i = 0; i < count; i++) delays.push(ms);
  }
  return delays;
}

export function formatRetrySchedule(delays: readonly number[]): string[] {
  return delays.map(formatDuration);
}

/**
 * When the next scheduled attempt is due, or null when the schedule is used up.
 * `attemptsDone` counts scheduled attempts made so far, including the one that
 * just failed; `random` is injected so tests need no luck. A receiver's Retry-After
 * may ask for more time (up to 6 h): the attempt then goes at the first scheduled
 * time at or after it (or at the schedule's end), and the entries before that are
 * used up (`skipped`). So attempts stay on the schedule's times, and the schedule
 * ends when it would have: waiting exactly what was asked would shift every later
 * entry, and using up the entry after the wait as well would end it early.
 */
export function nextAttempt(
  schedule: readonly number[],
  attemptsDone: number,
  random: () => number,
  retryAfterMs: number | null = null,
): { delayMs: number; skipped: number } | null {
  const base = schedule[attemptsDone - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (1 + (random() * 2 - 1) * JITTER));
  if (retryAfterMs === null || retryAfterMs <= jittered) return { delayMs: jittered, skipped: 0 };
  const wanted = Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  let covered = base;
  let skipped = 0;
  for (let next = attemptsDone; covered < wanted && next < schedule.length; next++) {
    covered += schedule[next] as number;
    skipped++;
  }
  return { delayMs: Math.max(jittered, covered), skipped };
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function scheduleError(message: string) {
  return new HooklineError("invalid_retry_schedule", message, { status: 400 });
}
