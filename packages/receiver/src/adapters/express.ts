import { WebhookVerificationError } from "../errors.ts";
import { type VerifyOptions, verifyWebhook } from "../verify.ts";
import { type BodyOptions, type NodeRequestLike, readRawBody } from "./node.ts";

interface ExpressRequestLike extends NodeRequestLike {
  body?: unknown;
  webhook?: unknown;
}
interface ExpressResponseLike {
  status(code: number): { json(body: unknown): unknown };
}

/**
 * Express middleware: verifies the webhook on its raw body, puts the event on
 * `req.webhook`, and answers 400 with `{ error, message }` when it is not genuine.
 *
 * Use it on the webhook route with no JSON parser before it (or after
 * `express.raw({ type: "application/json" })`): a body that `express.json()`
 * already parsed cannot be verified, and is reported as `body_already_parsed`.
 */
export function verifyExpressWebhook(secret: string | readonly string[], options: VerifyOptions & BodyOptions = {}) {
  return (request: ExpressRequestLike, response: ExpressResponseLike, next: (error?: unknown) => void) => {
    verify(request, secret, options).then(
      (event) => {
        request.webhook = event;
        next();
      },
      (error: unknown) => {
        if (error instanceof WebhookVerificationError && error.code !== "body_already_parsed") {
          response.status(400).json({ error: error.code, message: error.message });
        } else {
          next(error);
        }
      },
    );
  };
}

async function verify(
  request: ExpressRequestLike,
  secret: string | readonly string[],
  options: VerifyOptions & BodyOptions,
) {
  const { body } = request;
  const raw =
    body instanceof Uint8Array || typeof body === "string"
      ? body
      : body === undefined || isEmptyObject(body)
        ? await readRawBody(request, options)
        : null;
  if (raw === null) {
    throw new WebhookVerificationError(
      "body_already_parsed",
      "the webhook body was parsed as JSON before verification: mount verifyExpressWebhook before express.json(), or use express.raw({ type: 'application/json' })",
    );
  }
  return verifyWebhook(raw, request.headers, secret, options);
}

/** Express 5 sets `req.body` to undefined, Express 4 body parsers that skipped the request leave `{}`. */
function isEmptyObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 0;
}
