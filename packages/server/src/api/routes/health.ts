import type { Api, ApiContext } from "../context.ts";
import { HealthResponse, ReadyResponse, UnavailableResponse } from "../schemas.ts";

export function registerHealthRoutes(app: Api, { store }: ApiContext): void {
  app.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness",
        description: "200 while the process runs and answers HTTP; the store is not asked.",
        response: { 200: HealthResponse },
      },
    },
    async () => ({ status: "ok" as const }),
  );

  app.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness",
        description: "200 when the store answers a query; 503 when it does not (or while the server stops).",
        response: { 200: ReadyResponse, 503: UnavailableResponse },
      },
    },
    async (request, reply) => {
      try {
        await store.nextDueAt();
        return { status: "ready" as const };
      } catch (error) {
        request.log.warn({ err: error }, "readiness check failed");
        return reply.code(503).send({ status: "unavailable", reason: "the store does not answer" });
      }
    },
  );
}
