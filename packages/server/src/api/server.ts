import cookie from "@fastify/cookie";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type { Logger } from "pino";
import { newRequestId } from "../ids.ts";
import { installAuth } from "./auth.ts";
import type { Api, ApiContext } from "./context.ts";
import { registerDashboard } from "./dashboard.ts";
import { frameworkError, installErrorHandler } from "./error-handler.ts";
import { installJsonBodyParser } from "./json-body.ts";
import { installOpenApi } from "./openapi.ts";
import { installIngestRateLimit } from "./rate-limit.ts";
import { registerAccountRoutes } from "./routes/accounts.ts";
import { registerDeliveryRoutes } from "./routes/deliveries.ts";
import { registerEndpointRoutes } from "./routes/endpoints.ts";
import { registerEventTypeRoutes } from "./routes/event-types.ts";
import { registerEventRoutes } from "./routes/events.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerListenRoutes } from "./routes/listen.ts";
import { registerMetricsRoute } from "./routes/metrics.ts";
import { registerSessionRoutes } from "./routes/sessions.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Builds the HTTP API (not yet listening). A worker node (`parts: "health"`) serves
 * only its liveness and readiness probes, and its metrics.
 */
export function buildApi(ctx: ApiContext, logger: Logger, parts: "all" | "health" = "all"): Api {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.maxBodyBytes,
    // A request must arrive whole within a minute: a body sent slowly cannot hold a connection
    // and its buffered bytes for ever (the listen WebSocket is an upgrade, not bound by this).
    requestTimeout: 60_000,
    // Strict input: no silent type coercion and no silent removal of unknown fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: true,
    frameworkErrors: frameworkError,
    // Every request has an id: the caller's `x-request-id` when it is a plain token, else a new
    // one. It is in every log line about the request (`reqId`) and sent back in `x-request-id`.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : newRequestId();
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  if (logger.isLevelEnabled("debug")) {
    app.addHook("onResponse", (request, reply, done) => {
      request.log.debug(
        { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        "request",
      );
      done();
    });
  }
  // Only JSON bodies: anything else is a 415, not a confusing validation error.
  app.removeContentTypeParser("text/plain");
  installJsonBodyParser(app);
  installErrorHandler(app);
  // Before any route: every route is collected for /openapi.json and /docs.
  installOpenApi(app, { serve: parts === "all", publicUrl: ctx.config.publicUrl ?? null });
  registerHealthRoutes(app, ctx);
  registerMetricsRoute(app, ctx);
  if (parts === "health") return app;
  app.register(cookie, { hook: false });
  installAuth(app, ctx.store, ctx.adminKeyHash, ctx.now);
  installIngestRateLimit(app, ctx.config, ctx.now);
  registerDashboard(app, ctx.config.portalFrameAncestors);
  registerAccountRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerEventTypeRoutes(app, ctx);
  registerDeliveryRoutes(app, ctx);
  // WebSocket messages are small JSON results (the CLI sends at most 4 KiB of a local
  // answer); anything larger is refused, not buffered.
  app.register(websocket, {
    options: { maxPayload: 128 * 1024 },
    // A client's oversized or malformed frame, or a reset, ends its socket with one short line;
    // anything else is a server error. (The default logged each one as an error with its stack.)
    errorHandler: (error, socket, request) => {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (code.startsWith("WS_ERR_") || code === "ECONNRESET" || code === "EPIPE") {
        request.log.info({ code, reason: error.message }, "a listen socket ended on a client error");
      } else {
        request.log.error({ err: error }, "a listen socket failed");
      }
      socket.terminate();
    },
  });
  app.register(async (scope) => registerListenRoutes(scope as Api, ctx));
  return app;
}
