import { invalid } from "../errors.ts";

/**
 * Milliseconds since the epoch of a `date-time` the schemas accepted (RFC 3339).
 * A leap second (`23:59:60`), which RFC 3339 allows and Date.parse cannot read, is
 * the first instant of the next minute, as in POSIX time.
 */
export function parseTimestamp(value: string, field: string): number {
  const ms = Date.parse(value);
  if (!Number.isNaN(ms)) return ms;
  const leap = /^(.+[Tt ]\d\d:\d\d):60(.*)$/.exec(value);
  const after = leap ? Date.parse(`${leap[1]}:59${leap[2]}`) + 1000 : Number.NaN;
  if (Number.isNaN(after)) throw invalid(`${field} is not a date-time Hookline can read: "${value}"`);
  return after;
}
