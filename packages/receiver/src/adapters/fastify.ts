import { WebhookVerificationError } from "../errors.ts";
import { type VerifyOptions, verifyWebhook } from "../verify.ts";

// The parts of a Fastify instance this uses, so the package needs no Fastify types.
interface FastifyRequestLike {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  webhook?: unknown;
}
interface FastifyReplyLike {
  code(status: number): { send(body: unknown): unknown };
}
interface FastifyInstanceLike {
  removeContentTypeParser(contentType: string | string[]): unknown;
  addContentTypeParser(
    contentType: string,
    options: { parseAs: "buffer"; bodyLimit?: number },
    parser: (request: unknown, body: Uint8Array, done: (error: Error | null, body?: unknown) => void) => void,
  ): unknown;
  decorateRequest(name: string, value: unknown): unknown;
  addHook(
    name: "preHandler",
    hook: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>,
  ): unknown;
}

/**
 * Makes every route of one Fastify scope a verified webhook route: JSON bodies
 * are kept raw, verified before the handler, and the event is on `request.webhook`;
 * a webhook that is not genuine gets 400 `{ error, message }`.
 *
 * ```ts
 * app.register(async (webhooks) => {
 *   verifyFastifyWebhooks(webhooks, process.env.WEBHOOK_SECRET);
 *   webhooks.post("/webhooks", async (request) => { … request.webhook … });
 * });
 * ```
 */
export function verifyFastifyWebhooks(
  scope: FastifyInstanceLike,
  secret: string | readonly string[],
  options: VerifyOptions & { bodyLimit?: number } = {},
): void {
  scope.removeContentTypeParser(["application/json"]);
  const parserOptions = options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit };
  scope.addContentTypeParser("application/json", { parseAs: "buffer", ...parserOptions }, (_request, body, done) =>
    done(null, body),
  );
  scope.decorateRequest("webhook", null);
  scope.addHook("preHandler", async (request, reply) => {
    try {
      request.webhook = await verifyWebhook(
        request.body instanceof Uint8Array ? request.body : "",
        request.headers,
        secret,
        options,
      );
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      return reply.code(400).send({ error: error.code, message: error.message });
    }
  });
}
