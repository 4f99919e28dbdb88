import { HooklineError } from "./errors.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses "500ms", "5s", "1m", "1h", "2d" into milliseconds. */
export function parseDuration(text: string): number {
  const match = PATTERN.exec(text.trim());
  if (!match) {
    throw new HooklineError("invalid_duration", `"${text}" is not a duration (use e.g. 500ms, 5s, 1m, 1h, 2d)`, {
      status: 400,
    });
  }
  return Math.round(Number(match[1]) * (UNITS[match[2] as string] as number));
}

/** Formats milliseconds back into the shortest exact unit ("3600000" → "1h"). */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = UNITS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
