/** Display helpers: times, durations and rates as people read them. */

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const shortTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTimeFormat.format(date);
}

export function formatShortTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : shortTimeFormat.format(date);
}

/** A span as "42 min", "3 h", "12 s" (rounded in the largest unit that fits). */
export function formatSpan(milliseconds: number): string {
  const seconds = Math.abs(milliseconds) / 1000;
  if (seconds < 59.5) return `${Math.round(seconds)} s`;
  if (seconds < 3570) return `${Math.round(seconds / 60)} min`;
  if (seconds < 84_600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

/** "in 42 min" for the future, "3 min ago" for the past, "just now" within a second of `now`. */
export function formatRelative(iso: string, now: number = Date.now()): string {
  const difference = new Date(iso).getTime() - now;
  if (Number.isNaN(difference)) return iso;
  if (Math.abs(difference) < 1000) return "just now";
  return difference > 0 ? `in ${formatSpan(difference)}` : `${formatSpan(difference)} ago`;
}

export function formatMilliseconds(milliseconds: number | null): string {
  return milliseconds === null ? "–" : `${Math.round(milliseconds)} ms`;
}

export function formatRate(rate: number | null): string {
  return rate === null ? "–" : `${(rate * 100).toFixed(rate === 1 ? 0 : 1)}%`;
}

/** A `<input type="datetime-local">` value (local time) as an ISO timestamp, or undefined when empty/invalid. */
export function localInputToIso(value: string): string | undefined {
  if (value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** A time as a `datetime-local` input value, in local time. */
export function isoToLocalInput(date: Date): string {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/** The outcome of an attempt or delivery in a few words: "200", "timeout error", "413 (too_large error)". */
export function describeOutcome(statusCode: number | null, error: string | null): string {
  if (statusCode !== null && error) return `${statusCode} (${error} error)`;
  if (statusCode !== null) return String(statusCode);
  return error ? `${error} error` : "no response";
}
