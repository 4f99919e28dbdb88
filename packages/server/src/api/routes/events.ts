import { isUtf8 } from "node:buffer";
import { HooklineError, invalid, notFound } from "../../errors.ts";
import type { IngestResult, NewEvent } from "../../store/store.ts";
import { scopeOf } from "../auth.ts";
import { type Api, type ApiContext, deliveriesJson, pageOf } from "../context.ts";
import { errorResponse } from "../openapi.ts";
import {
  BatchEventsBody,
  CreateEventBody,
  DeliveryResponse,
  EventBatchResponse,
  EventListQuery,
  EventResponse,
  type HooklineEvent,
  IdParams,
  type Page,
  PageOf,
  PageQuery,
} from "../schemas.ts";
import { eventPageJson, jsonText, pageJson } from "../serialize.ts";

const RATE_LIMITED = errorResponse(
  "`rate_limited`: over the account's ingest rate; nothing was written. `retry-after` says when to retry",
);

import { parseTimestamp } from "../timestamps.ts";

export function registerEventRoutes(app: Api, ctx: ApiContext): void {
  const { store } = ctx;

  function toNewEvent(
    input: { type: string; data: unknown; idempotency_key?: string | undefined },
    index?: number,
  ): NewEvent {
    let dataJson: string;
    try {
      dataJson = JSON.stringify(input.data);
    } catch {
      // Only a pathologically deep value fails here (the stack runs out).
      throw invalid(`${index === undefined ? "data" : `events[${index}].data`} nests too deeply`);
    }
    if (dataJson.length > ctx.config.maxBodyBytes) {
      const which = index === undefined ? "the event's data" : `events[${index}].data`;
      throw new HooklineError("payload_too_large", `${which} is larger than ${ctx.config.maxBodyBytes} bytes`, {
        status: 413,
      });
    }
    return { type: input.type, dataJson, idempotencyKey: input.idempotency_key ?? null };
  }

  function accepted(result: IngestResult): { body: string; replayed: boolean }[] {
    if (!result.ok) throw result.error;
    return result.events.map(({ event, replayed }) => ({ body: event.body, replayed }));
  }

  app.post(
    "/v1/events",
    {
      config: { auth: "account" },
      schema: {
        summary: "Send an event",
        description:
          "Accepted (202) once it is committed, with a delivery to every matching enabled endpoint. An idempotency key (the `idempotency_key` field or the `idempotency-key` header) makes a repeat answer the first event, with the header `idempotent-replayed: true`.",
        body: CreateEventBody,
        response: { 202: EventResponse, 429: RATE_LIMITED },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const fromHeader = idempotencyHeader(request.raw.rawHeaders);
      const body = request.body;
      if (fromHeader !== undefined && body.idempotency_key !== undefined && fromHeader !== body.idempotency_key) {
        throw invalid("the idempotency-key header and the idempotency_key field differ");
      }
      // Counted in characters, as the field's maxLength is.
      if (fromHeader !== undefined && (fromHeader.length === 0 || [...fromHeader].length > 256)) {
        throw invalid("the idempotency-key header must be 1 to 256 characters");
      }
      const event = toNewEvent({ ...body, idempotency_key: body.idempotency_key ?? fromHeader });
      const [result] = accepted(await ctx.ingest.submit({ scope, events: [event] }));
      if (!result) throw new Error("ingest answers one result per event");
      if (result.replayed) reply.header("idempotent-replayed", "true");
      return reply.code(202).type("application/json").send(jsonText<HooklineEvent>(result.body));
    },
  );

  app.post(
    "/v1/events/batch",
    {
      config: { auth: "account" },
      schema: {
        summary: "Send up to 1,000 events at once",
        description:
          "All or nothing: every event is committed, or none (the error names the first bad one). Each may carry its own `idempotency_key`.",
        body: BatchEventsBody,
        response: {
          202: EventBatchResponse,
          413: errorResponse(
            "`payload_too_large`, or `batch_too_large`: more events than the account's ingest burst can ever take",
          ),
          422: errorResponse(
            "`too_many_deliveries`: the events would make more than 100,000 deliveries (events × matching endpoints); nothing was written; send fewer per batch",
          ),
          429: RATE_LIMITED,
        },
      },
      bodyLimit: ctx.config.maxBatchBodyBytes,
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const events = request.body.events.map((event, index) => toNewEvent(event, index));
      const results = accepted(await ctx.ingest.submit({ scope, events }));
      return reply
        .code(202)
        .type("application/json")
        .send(jsonText<{ data: HooklineEvent[] }>(`{"data":[${results.map((r) => r.body).join(",")}]}`));
    },
  );

  app.get(
    "/v1/events",
    {
      config: { auth: "account" },
      schema: {
        summary: "List events",
        description:
          "Newest first, filtered by `type`, creation time (`since`, `until`) and `delivery_status` (events with at least one delivery in that status). A call looks at up to 5,000 events, so a page can be short, even empty, with a `next_cursor`: follow it until it is `null`.",
        querystring: EventListQuery,
        response: { 200: PageOf(EventResponse) },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const page = pageOf(request.query);
      const { type, since, until } = request.query;
      const filter = {
        type,
        deliveryStatus: request.query.delivery_status,
        since: since === undefined ? undefined : parseTimestamp(since, "since"),
        until: until === undefined ? undefined : parseTimestamp(until, "until"),
      };
      const events = await store.listEvents(scope, filter, page.fetch);
      return reply.type("application/json").send(jsonText<Page<HooklineEvent>>(eventPageJson(events, page.limit)));
    },
  );

  app.get(
    "/v1/events/:id",
    {
      config: { auth: "account" },
      schema: {
        summary: "Read an event",
        description: "The event exactly as receivers get it.",
        params: IdParams,
        response: { 200: EventResponse },
      },
    },
    async (request, reply) => {
      const scope = scopeOf(request);
      const event = await store.getEvent(scope, request.params.id);
      if (!event) throw notFound("event", request.params.id);
      return reply.type("application/json").send(jsonText<HooklineEvent>(event.body));
    },
  );

  app.get(
    "/v1/events/:id/deliveries",
    {
      config: { auth: "account" },
      schema: {
        summary: "List an event's deliveries",
        description: "One per endpoint the event went to, with its status, in id order, a page at a time.",
        params: IdParams,
        querystring: PageQuery,
        response: { 200: PageOf(DeliveryResponse) },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      if (!(await store.getEvent(scope, request.params.id))) throw notFound("event", request.params.id);
      const page = pageOf(request.query);
      const deliveries = await store.listDeliveries(scope, request.params.id, page.fetch);
      const { data, next_cursor } = pageJson(deliveries, page.limit, (delivery) => delivery);
      return { data: await deliveriesJson(ctx, scope, data), next_cursor };
    },
  );
}

/**
 * The `idempotency-key` header as the sender wrote it. Node joins repeated headers with ", "
 * (which would make a key the sender never sent) and reads bytes as Latin-1: one header only,
 * and its bytes read as UTF-8, so a key means the same in the header as in the body.
 */
function idempotencyHeader(rawHeaders: string[]): string | undefined {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === "idempotency-key") values.push(rawHeaders[i + 1] as string);
  }
  if (values.length === 0) return undefined;
  if (values.length > 1) throw invalid("send one idempotency-key header, not several");
  const bytes = Buffer.from(values[0] as string, "latin1");
  if (!isUtf8(bytes)) throw invalid("the idempotency-key header is not UTF-8");
  return bytes.toString("utf8");
}
