import { concat } from "../encoding.ts";
import { WebhookVerificationError } from "../errors.ts";
import { type VerifyOptions, verifyWebhook, type WebhookEvent } from "../verify.ts";

/** What node:http's IncomingMessage offers that this needs: headers and the body as a stream of chunks. */
export interface NodeRequestLike extends AsyncIterable<Uint8Array | string> {
  headers: Record<string, string | string[] | undefined>;
}

export interface BodyOptions {
  /** The largest body read, in bytes (default 1 MiB); a larger one is refused with `body_too_large`. */
  limit?: number;
}

const DEFAULT_LIMIT = 1024 * 1024;

/** Reads a request's body as raw bytes, up to `limit`. */
export async function readRawBody(request: AsyncIterable<Uint8Array | string>, options: BodyOptions = {}) {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request) {
    const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
    size += bytes.length;
    if (size > limit) throw new WebhookVerificationError("body_too_large", `the body is larger than ${limit} bytes`);
    chunks.push(bytes);
  }
  return concat(chunks);
}

/** Reads a node:http request's raw body and verifies it; see verifyWebhook. */
export async function verifyNodeRequest<T = unknown>(
  request: NodeRequestLike,
  secret: string | readonly string[],
  options: VerifyOptions & BodyOptions = {},
): Promise<WebhookEvent<T>> {
  return verifyWebhook<T>(await readRawBody(request, options), request.headers, secret, options);
}
