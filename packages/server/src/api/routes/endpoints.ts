import { urlRejection } from "../../delivery/egress-guard.ts";
import { parseRetrySchedule } from "../../delivery/retry-schedule.ts";
import { HooklineError, invalid, notFound } from "../../errors.ts";
import { newSigningSecret } from "../../ids.ts";
import type { Environment } from "../../store/store.ts";
import { scopeOf } from "../auth.ts";
import { type Api, type ApiContext, pageOf } from "../context.ts";
import { endpointHealthJson, healthSince } from "../endpoint-health.ts";
import { errorResponse, noContent } from "../openapi.ts";
import {
  CreateEndpointBody,
  EndpointResponse,
  EndpointStatsResponse,
  EventResponse,
  type HooklineEvent,
  IdParams,
  PageOf,
  PageQuery,
  RecoverBody,
  RecoverResponse,
  UpdateEndpointBody,
} from "../schemas.ts";
import { endpointJson, jsonText, pageJson } from "../serialize.ts";
import { parseTimestamp } from "../timestamps.ts";

/** How long the secret before a rotation still signs, so receivers can switch without a gap. */
const ROTATION_OVERLAP_MS = 24 * 3_600_000;
/** The shortest wait between two attempts a LIVE endpoint's own schedule may ask for. */
const MIN_LIVE_RETRY_MS = 1_000;

export function registerEndpointRoutes(app: Api, ctx: ApiContext): void {
  const { store, now } = ctx;

  async function checkUrl(url: string, environment: Environment) {
    const reason = await urlRejection(
      url,
      {
        environment,
        allowPrivateInTest: ctx.config.allowPrivateInTest,
        allowCidrs: ctx.config.egressAllowCidrs,
      },
      ctx.resolve,
    );
    if (reason) throw new HooklineError("url_rejected", reason, { status: 422 });
  }

  const schedule = (entries: string[] | null | undefined, environment: Environment) => {
    if (entries === undefined || entries === null) return entries;
    const delays = parseRetrySchedule(entries);
    // A LIVE receiver that fails must not get a burst: 200 retries of 0 s each would make every
    // event 201 requests at once to any public URL.
    if (environment === "live" && delays.some((delay) => delay < MIN_LIVE_RETRY_MS)) {
      throw new HooklineError(
        "invalid_retry_schedule",
        `in LIVE each retry waits at least ${MIN_LIVE_RETRY_MS / 1000} s (TEST may retry sooner)`,
        { status: 400 },
      );
    }
    return delays;
  };

  app.post(
    "/v1/endpoints",
    {
      config: { auth: "account" },
      schema: {
        summary: "Create an endpoint",
        description:
          "Answers the endpoint with its signing secret (`whsec_…`). The URL is checked: LIVE refuses addresses that are not public; TEST allows loopback and private ones unless the operator forbids them.",
        body: CreateEndpointBody,
        response: {
          201: EndpointResponse,
          409: errorResponse(
            "`endpoint_limit`: the account has as many endpoints as it may (`max_endpoints_per_account`)",
          ),
          422: errorResponse("`url_rejected`: the URL may not be used; the message says why"),
        },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const body = request.body;
      await checkUrl(body.url, scope.environment);
      const limit = ctx.config.maxEndpointsPerAccount;
      if ((await store.countEndpoints(scope)) >= limit) {
        throw new HooklineError(
          "endpoint_limit",
          `this account has ${limit} endpoints in ${scope.environment}, the most it may have (max_endpoints_per_account): delete one first`,
          { status: 409 },
        );
      }
      const endpoint = await store.createEndpoint(
        scope,
        {
          url: body.url,
          description: body.description ?? "",
          eventTypes: body.event_types ?? null,
          rateLimitPerS: body.rate_limit_per_s ?? null,
          maxInFlight: body.max_in_flight ?? null,
          retrySchedule: schedule(body.retry_schedule, scope.environment) ?? null,
          secret: newSigningSecret(),
          enabled: body.enabled ?? true,
        },
        now(),
      );
      return reply.code(201).send(endpointJson(endpoint));
    },
  );

  app.get(
    "/v1/endpoints",
    {
      config: { auth: "account" },
      schema: { summary: "List endpoints", querystring: PageQuery, response: { 200: PageOf(EndpointResponse) } },
    },
    async (request) => {
      const scope = scopeOf(request);
      const page = pageOf(request.query);
      return pageJson(await store.listEndpoints(scope, page.fetch), page.limit, endpointJson);
    },
  );

  app.get(
    "/v1/endpoints/:id",
    {
      config: { auth: "account" },
      schema: { summary: "Read an endpoint", params: IdParams, response: { 200: EndpointResponse } },
    },
    async (request) => {
      const scope = scopeOf(request);
      const endpoint = await store.getEndpoint(scope, request.params.id);
      if (!endpoint) throw notFound("endpoint", request.params.id);
      return endpointJson(endpoint);
    },
  );

  app.get(
    "/v1/endpoints/:id/stats",
    {
      config: { auth: "account" },
      schema: {
        summary: "An endpoint's health",
        description:
          "Pending and failed deliveries, success rate and average duration over 24 hours and 7 days, chart series (24 hourly and 28 six-hour buckets, empty ones included) and the last attempt.",
        params: IdParams,
        response: { 200: EndpointStatsResponse },
      },
    },
    async (request) => {
      const at = now();
      const stats = await store.endpointStats(scopeOf(request), request.params.id, healthSince(at));
      if (!stats) throw notFound("endpoint", request.params.id);
      return endpointHealthJson(request.params.id, stats, at);
    },
  );

  app.patch(
    "/v1/endpoints/:id",
    {
      config: { auth: "account" },
      schema: {
        summary: "Change an endpoint",
        description:
          'Any field of the creation, and `enabled`. Disabling fails the endpoint\'s pending deliveries (`last_error: "endpoint_disabled"`); once it is enabled again, recover brings them back. A request already on its way is still recorded (until the delivery is sent again); only an acknowledgement changes its delivery.',
        params: IdParams,
        body: UpdateEndpointBody,
        response: {
          200: EndpointResponse,
          409: errorResponse("`listen_endpoint`: a `hookline listen` endpoint has no URL to change"),
          422: errorResponse("`url_rejected`: the URL may not be used; the message says why"),
        },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const body = request.body;
      if (Object.keys(body).length === 0) throw invalid("send at least one field to change");
      if (body.url !== undefined) {
        if ((await store.getEndpoint(scope, request.params.id))?.kind === "listen") {
          throw new HooklineError(
            "listen_endpoint",
            "this endpoint's deliveries go to `hookline listen`; it has no URL to change",
            { status: 409 },
          );
        }
        await checkUrl(body.url, scope.environment);
      }
      const patch = Object.fromEntries(
        Object.entries({
          url: body.url,
          description: body.description,
          eventTypes: body.event_types,
          rateLimitPerS: body.rate_limit_per_s,
          maxInFlight: body.max_in_flight,
          retrySchedule: schedule(body.retry_schedule, scope.environment),
          enabled: body.enabled,
        }).filter(([, value]) => value !== undefined),
      );
      const endpoint = await store.updateEndpoint(scope, request.params.id, patch, now());
      if (!endpoint) throw notFound("endpoint", request.params.id);
      ctx.dispatcher.forget(endpoint.id);
      return endpointJson(endpoint);
    },
  );

  app.delete(
    "/v1/endpoints/:id",
    {
      config: { auth: "account" },
      schema: {
        summary: "Delete an endpoint",
        description:
          "Its unfinished deliveries are cancelled; a request already claimed may still go out, and what it gets is recorded.",
        params: IdParams,
        response: { 204: noContent("Deleted") },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      if (!(await store.deleteEndpoint(scope, request.params.id, now()))) throw notFound("endpoint", request.params.id);
      ctx.dispatcher.forget(request.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    "/v1/endpoints/:id/rotate-secret",
    {
      config: { auth: "account" },
      schema: {
        summary: "Rotate an endpoint's signing secret",
        description:
          "A new secret signs from now on; the old one keeps signing too for 24 hours (`previous_secret_expires_at`), so requests carry both signatures until receivers have switched.",
        params: IdParams,
        response: { 200: EndpointResponse },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const t = now();
      const endpoint = await store.rotateSecret(
        scope,
        request.params.id,
        newSigningSecret(),
        t + ROTATION_OVERLAP_MS,
        t,
      );
      if (!endpoint) throw notFound("endpoint", request.params.id);
      ctx.dispatcher.forget(endpoint.id);
      return endpointJson(endpoint);
    },
  );

  app.post(
    "/v1/endpoints/:id/test",
    {
      config: { auth: "account" },
      schema: {
        summary: "Send a test event to an endpoint",
        description: "A `webhook.test` event, delivered to this endpoint only.",
        params: IdParams,
        response: {
          202: EventResponse,
          429: errorResponse("`rate_limited`: over the account's ingest rate; `retry-after` says when to retry"),
        },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const result = await ctx.ingest.submit({
        scope,
        onlyEndpointId: request.params.id,
        events: [
          {
            type: "webhook.test",
            dataJson: JSON.stringify({ message: "A test event sent from Hookline", endpoint_id: request.params.id }),
            idempotencyKey: null,
          },
        ],
      });
      if (!result.ok) throw result.error;
      const body = result.events[0]?.event.body;
      if (body === undefined) throw new Error("ingest answers one result per event");
      return reply.code(202).type("application/json").send(jsonText<HooklineEvent>(body));
    },
  );

  app.post(
    "/v1/endpoints/:id/recover",
    {
      config: { auth: "account" },
      schema: {
        summary: "Recover an endpoint's failed deliveries",
        description:
          "Re-queues the endpoint's failed deliveries created in the window (`until`: now by default), each with a fresh schedule. A disabled endpoint is refused (409): enable it first.",
        params: IdParams,
        body: RecoverBody,
        response: {
          202: RecoverResponse,
          409: errorResponse("`endpoint_disabled`: the endpoint is disabled; enable it first, then recover"),
        },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const t = now();
      const since = parseTimestamp(request.body.since, "since");
      const until = request.body.until ? parseTimestamp(request.body.until, "until") : t + 1;
      if (since >= until) throw invalid("`since` must be before `until`");
      const recovered = await store.recoverEndpoint(scope, request.params.id, since, until, t);
      if (recovered === null) throw notFound("endpoint", request.params.id);
      if (recovered === "endpoint_disabled") {
        throw new HooklineError(
          "endpoint_disabled",
          `endpoint ${request.params.id} is disabled; enable it first, then recover its failed deliveries`,
          { status: 409 },
        );
      }
      ctx.dispatcher.wake();
      return reply.code(202).send({ recovered });
    },
  );
}
