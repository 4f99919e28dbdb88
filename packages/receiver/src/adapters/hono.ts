import { WebhookVerificationError } from "../errors.ts";
import { type VerifyOptions, verifyWebhook } from "../verify.ts";

// The parts of a Hono context this uses, so the package needs no Hono types.
interface HonoContextLike {
  req: { arrayBuffer(): Promise<ArrayBuffer>; raw: { headers: { get(name: string): string | null } } };
  set(key: "webhook", value: unknown): void;
  json(body: unknown, status: 400): Response;
}

/**
 * Hono middleware: verifies the webhook on its raw body and sets `c.get("webhook")`;
 * answers 400 `{ error, message }` when it is not genuine. Runs wherever Hono
 * does (Node, Bun, Deno, Cloudflare Workers): it only uses Web Crypto.
 */
export function verifyHonoWebhook(secret: string | readonly string[], options: VerifyOptions = {}) {
  return async (c: HonoContextLike, next: () => Promise<void>): Promise<Response | undefined> => {
    try {
      c.set("webhook", await verifyWebhook(await c.req.arrayBuffer(), c.req.raw.headers, secret, options));
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      return c.json({ error: error.code, message: error.message }, 400);
    }
    await next();
    return undefined;
  };
}
