import { HooklineError, notFound } from "../../errors.ts";
import { scopeOf } from "../auth.ts";
import { type Api, type ApiContext, deliveriesJson, pageOf } from "../context.ts";
import { IdParams, PageQuery, RetryPendingBody } from "../schemas.ts";
import { attemptJson, pageJson } from "../serialize.ts";

export function registerDeliveryRoutes(app: Api, ctx: ApiContext): void {
  const { store, now } = ctx;

  app.get("/v1/deliveries/:id", { config: { auth: "account" }, schema: { params: IdParams } }, async (request) => {
    const scope = scopeOf(request);
    const delivery = await store.getDelivery(scope, request.params.id);
    if (!delivery) throw notFound("delivery", request.params.id);
    return (await deliveriesJson(ctx, scope, [delivery]))[0];
  });

  app.get(
    "/v1/deliveries/:id/attempts",
    { config: { auth: "account" }, schema: { params: IdParams, querystring: PageQuery } },
    async (request) => {
      const scope = scopeOf(request);
      if (!(await store.getDelivery(scope, request.params.id))) throw notFound("delivery", request.params.id);
      const page = pageOf(request.query);
      return pageJson(await store.listAttempts(scope, request.params.id, page.fetch), page.limit, attemptJson);
    },
  );

  app.post(
    "/v1/deliveries/:id/retry",
    { config: { auth: "account" }, schema: { params: IdParams } },
    async (request, reply) => {
      const scope = scopeOf(request);
      const delivery = await store.requestRetry(scope, request.params.id, now());
      if (delivery === null) throw notFound("delivery", request.params.id);
      if (delivery === "busy") {
        throw new HooklineError("attempt_in_progress", "an attempt of this delivery is running; retry when it ends", {
          status: 409,
        });
      }
      ctx.dispatcher.wake();
      return reply.code(202).send((await deliveriesJson(ctx, scope, [delivery]))[0]);
    },
  );

  // TEST only: walk a delivery's whole schedule in seconds instead of 72 hours. Each
  // call makes the next scheduled attempt of every pending delivery happen now.
  app.post(
    "/v1/deliveries/retry",
    { config: { auth: "account" }, schema: { body: RetryPendingBody } },
    async (request, reply) => {
      const scope = scopeOf(request);
      if (scope.environment !== "test") {
        throw new HooklineError(
          "test_key_required",
          "bulk retry is for TEST only: in LIVE, retry one delivery (POST /v1/deliveries/{id}/retry) or recover an endpoint",
          { status: 403 },
        );
      }
      const retried = await store.advancePending(scope, now());
      ctx.dispatcher.wake();
      return reply.code(202).send({ retried });
    },
  );
}
