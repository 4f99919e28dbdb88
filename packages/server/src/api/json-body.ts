import { isUtf8 } from "node:buffer";
import type { FastifyInstance } from "fastify";
import { HooklineError } from "../errors.ts";

/**
 * JSON request bodies. Fastify's parser, with three differences, so that what is
 * stored is what was sent:
 * - bytes that are not UTF-8 are refused: decoding would turn them into U+FFFD
 *   and store data the sender never wrote;
 * - a number a double cannot hold is refused, not changed: beyond ±1.8e308 (`1e400`:
 *   JSON.parse makes it Infinity, stored as `null`), an integer beyond ±(2^53 − 1)
 *   (`9007199254740993` would be stored as …992: send such ids as strings), or too
 *   small (`1e-400` would be stored as 0);
 * - `__proto__` and `constructor` keys are data like any other (Fastify refuses
 *   them). JSON.parse makes them own properties, never a prototype, and nothing
 *   here merges a body into another object; a relay delivers the sender's JSON.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("ignore", "ignore");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body: Buffer, done) => {
    if (!isUtf8(body)) return done(invalidJson("the body is not valid UTF-8"), undefined);
    const text = body.toString("utf8");
    parse(request, text, (error, value) => {
      if (error) return done(error, undefined);
      // Only a 3-digit exponent or a run of 16+ digits can make a number a double cannot hold:
      // most bodies skip the second look.
      const inexact = MAYBE_INEXACT.test(text) ? inexactNumber(text) : null;
      if (inexact) return done(invalidJson(inexact), undefined);
      done(null, value);
    });
  });
}

/**
 * Needed for a literal a double cannot hold: an exponent of 3+ digits, or 16+ digits in a row.
 * A run is matched only from its first digit, so the test stays linear in the body's length
 * (an unanchored `\d{210}` retried every position of long digit runs: seconds for 15 MB).
 */
const MAYBE_INEXACT = /[eE][+-]?\d{3}|(?<!\d)\d{16}/;
const INTEGER_LITERAL = /^-?\d+$/;
const NONZERO_MANTISSA = /^-?0*\.?0*[1-9]/;

/** Why a number literal in `text` would not be stored as sent, or null. Parses again, seeing each literal's source. */
function inexactNumber(text: string): string | null {
  let problem: string | null = null;
  const check = (_key: string, value: unknown, context?: { source?: string }) => {
    if (problem === null && typeof value === "number") {
      const source = context?.source ?? "";
      if (!Number.isFinite(value)) {
        problem = `the number ${abbreviated(source)} is beyond the range of a double (±1.8e308)`;
      } else if (INTEGER_LITERAL.test(source) && !Number.isSafeInteger(value)) {
        problem = `the integer ${abbreviated(source)} is beyond ±9007199254740991 (2^53 − 1) and would not be stored exactly; send it as a string`;
      } else if (value === 0 && NONZERO_MANTISSA.test(source)) {
        problem = `the number ${abbreviated(source)} is too small for a double and would be stored as 0`;
      }
    }
    return value;
  };
  try {
    JSON.parse(text, check);
  } catch (error) {
    // A reviver recurses: a body nested some 20,000 deep runs out of stack here.
    if (error instanceof RangeError) return "the body nests too deeply";
    throw error;
  }
  return problem;
}

function abbreviated(source: string): string {
  return source.length > 40 ? `${source.slice(0, 20)}…${source.slice(-10)} (${source.length} characters)` : source;
}

function invalidJson(message: string) {
  return new HooklineError("invalid_json", message, { status: 400 });
}
