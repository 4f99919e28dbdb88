import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { HooklineError } from "../errors.ts";

/** Fastify's own error codes that mean the client sent something wrong. */
const CLIENT_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: "unsupported_media_type" },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: "payload_too_large" },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: "invalid_json" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: "invalid_json" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: "invalid_request" },
};

/**
 * The one place errors become API responses: `{"error":{"code","message"}}`.
 * Internals never leak; unexpected errors are logged and answered with a 500.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HooklineError, request, reply) => {
    if (error instanceof HooklineError && error.status < 500) {
      return reply.code(error.status).headers(error.headers).send(body(error.code, error.message));
    }
    if ("validation" in error && error.validation) {
      return reply.code(400).send(body("invalid_request", validationMessage(error)));
    }
    const known = "code" in error ? CLIENT_ERRORS[error.code] : undefined;
    if (known) return reply.code(known.status).send(body(known.code, error.message));
    if (error instanceof SyntaxError || ("statusCode" in error && error.statusCode === 400)) {
      return reply.code(400).send(body("invalid_json", `the body is not valid JSON: ${error.message}`));
    }
    // A plugin's own client error (e.g. the static files' 403 for a directory): its status, no log.
    if (
      "statusCode" in error &&
      typeof error.statusCode === "number" &&
      error.statusCode > 400 &&
      error.statusCode < 500
    ) {
      const status = error.statusCode === 403 ? 404 : error.statusCode;
      return reply
        .code(status)
        .send(
          body(
            status === 404 ? "not_found" : "invalid_request",
            `${request.method} ${request.url.split("?")[0]}: ${status === 404 ? "not found" : error.message}`,
          ),
        );
    }
    if (error instanceof HooklineError) {
      request.log.error({ err: error.cause ?? error }, error.message);
      return reply.code(error.status).headers(error.headers).send(body(error.code, error.message));
    }
    request.log.error({ err: error }, "unexpected error");
    return reply.code(500).send(body("internal_error", "an internal error occurred; it has been logged"));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(body("not_found", `no route ${request.method} ${request.url.split("?")[0]}`));
  });
}

/**
 * Fastify's `frameworkErrors`: what it answers itself, before any route or hook
 * (a broken percent-escape in the path, an over-long path parameter), in the same shape.
 */
export function frameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    reply.code(error.statusCode).send(body("invalid_request", error.message));
    return;
  }
  reply.log.error({ err: error }, "unexpected error");
  reply.code(500).send(body("internal_error", "an internal error occurred; it has been logged"));
}

function body(code: string, message: string) {
  return { error: { code, message } };
}

function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = `${error.validationContext ?? "body"}${first.instancePath.replaceAll("/", ".")}`;
  const params = first.params as Record<string, unknown>;
  if (params.additionalProperty) return `${where} has an unknown field "${params.additionalProperty}"`;
  if (params.missingProperty) return `${where} is missing the field "${params.missingProperty}"`;
  return `${where} ${first.message}`;
}
