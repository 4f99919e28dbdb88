import type { Api, ApiContext } from "../context.ts";

export function registerHealthRoutes(app: Api, { store }: ApiContext): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (request, reply) => {
    try {
      await store.nextDueAt();
      return { status: "ready" };
    } catch (error) {
      request.log.warn({ err: error }, "readiness check failed");
      return reply.code(503).send({ status: "unavailable", reason: "the store does not answer" });
    }
  });
}
