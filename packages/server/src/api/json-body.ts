import { isUtf8 } from "node:buffer";
import type { FastifyInstance } from "fastify";
import { HooklineError } from "../errors.ts";

/**
 * JSON request bodies. Fastify's parser, with three differences, so that what is
 * stored is what was sent:
 * - bytes that are not UTF-8 are refused: decoding would turn them into U+FFFD
 *   and store data the sender never wrote;
 * - a number beyond a double (`1e400`) is refused: JSON.parse makes it Infinity,
 *   which JSON text cannot hold (it would be stored as `null`);
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
      // Only a long exponent or a long run of digits can overflow a double: most bodies skip the walk.
      if (MAYBE_HUGE.test(text) && hasNonFiniteNumber(value)) {
        return done(invalidJson("a number in the body is beyond the range of a double (±1.8e308)"), undefined);
      }
      done(null, value);
    });
  });
}

/** Needed for a literal ≥ 1.8e308: an exponent of 3+ digits, or 210+ digits before a 2-digit exponent. */
const MAYBE_HUGE = /[eE]\+?\d{3}|\d{210}/;

/** Iterative, so a deeply nested body cannot exhaust the stack here. */
function hasNonFiniteNumber(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === "number") {
      if (!Number.isFinite(next)) return true;
    } else if (next !== null && typeof next === "object") {
      for (const item of Object.values(next)) pending.push(item);
    }
  }
  return false;
}

function invalidJson(message: string) {
  return new HooklineError("invalid_json", message, { status: 400 });
}
