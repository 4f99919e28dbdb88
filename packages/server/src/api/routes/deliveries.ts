import { HooklineError, notFound } from "../../errors.ts";
import type { Delivery, Scope } from "../../store/store.ts";
import { scopeOf } from "../auth.ts";
import { type Api, type ApiContext, deliveriesJson, pageOf } from "../context.ts";
import { errorResponse } from "../openapi.ts";
import {
  AttemptResponse,
  DeliveryResponse,
  IdParams,
  PageOf,
  PageQuery,
  RetryPendingBody,
  RetryPendingResponse,
} from "../schemas.ts";
import { attemptJson, pageJson } from "../serialize.ts";

export function registerDeliveryRoutes(app: Api, ctx: ApiContext): void {
  const { store, now } = ctx;

  app.get(
    "/v1/deliveries/:id",
    {
      config: { auth: "account" },
      schema: { summary: "Read a delivery", params: IdParams, response: { 200: DeliveryResponse } },
    },
    async (request) => {
      const scope = scopeOf(request);
      const delivery = await store.getDelivery(scope, request.params.id);
      if (!delivery) throw notFound("delivery", request.params.id);
      return oneDeliveryJson(ctx, scope, delivery);
    },
  );

  app.get(
    "/v1/deliveries/:id/attempts",
    {
      config: { auth: "account" },
      schema: {
        summary: "List a delivery's attempts",
        description:
          "Every try: when it started, how long it took, the receiver's status code (null without a response) or the error (`timeout`, `connect`, `dns`, `blocked`, `tls`, `reset`, `too_large`, `listener_offline`), the start of its answer (`response_snippet`), the headers sent, and whether it was `scheduled` or `manual`.",
        params: IdParams,
        querystring: PageQuery,
        response: { 200: PageOf(AttemptResponse) },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      if (!(await store.getDelivery(scope, request.params.id))) throw notFound("delivery", request.params.id);
      const page = pageOf(request.query);
      return pageJson(await store.listAttempts(scope, request.params.id, page.fetch), page.limit, attemptJson);
    },
  );

  app.post(
    "/v1/deliveries/:id/retry",
    {
      config: { auth: "account" },
      schema: {
        summary: "Attempt a delivery now",
        description:
          "Attempts the delivery now. It does not use up the schedule: if it fails, the next scheduled attempt stays as it was.",
        params: IdParams,
        response: {
          202: DeliveryResponse,
          409: errorResponse(
            "`attempt_in_progress`: an attempt of this delivery is running; retry when it ends. `endpoint_deleted`: its endpoint was deleted. `endpoint_disabled`: its endpoint is disabled; enable it first",
          ),
        },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const delivery = await store.requestRetry(scope, request.params.id, now());
      if (delivery === null) throw notFound("delivery", request.params.id);
      if (delivery === "busy") {
        throw new HooklineError("attempt_in_progress", "an attempt of this delivery is running; retry when it ends", {
          status: 409,
        });
      }
      if (delivery === "endpoint_deleted") {
        throw new HooklineError(
          "endpoint_deleted",
          `the endpoint of delivery ${request.params.id} was deleted; there is nowhere to deliver it`,
          { status: 409 },
        );
      }
      if (delivery === "endpoint_disabled") {
        throw new HooklineError(
          "endpoint_disabled",
          `the endpoint of delivery ${request.params.id} is disabled; enable it to retry its deliveries`,
          { status: 409 },
        );
      }
      ctx.dispatcher.wake();
      return reply.code(202).send(await oneDeliveryJson(ctx, scope, delivery));
    },
  );

  // TEST only: walk a delivery's whole schedule in seconds instead of 72 hours. Each
  // call makes the next scheduled attempt of every pending delivery happen now.
  app.post(
    "/v1/deliveries/retry",
    {
      config: { auth: "account" },
      schema: {
        summary: "Attempt every pending delivery now (TEST)",
        description:
          "TEST only: makes the next scheduled attempt of every pending delivery of the environment happen now, so a whole schedule can be walked through in seconds.",
        body: RetryPendingBody,
        response: {
          202: RetryPendingResponse,
          403: errorResponse("`test_key_required`: a LIVE key, or `forbidden`/`wrong_key`/`csrf_token_invalid`"),
        },
      },
    },
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

async function oneDeliveryJson(ctx: ApiContext, scope: Scope, delivery: Delivery) {
  const [json] = await deliveriesJson(ctx, scope, [delivery]);
  if (!json) throw new Error("deliveriesJson answers one entry per delivery");
  return json;
}
