import { type Static, Type } from "typebox";

/**
 * The Hookline API's wire format, in one place: the server validates requests with
 * these schemas, and the client's types are derived from them (no copy to drift).
 * Request schemas: unknown fields are errors everywhere (additionalProperties: false).
 */

const strict = { additionalProperties: false } as const;

export const EventType = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$" });
/**
 * Free text may hold anything but NUL, which PostgreSQL text cannot store, and a
 * lone UTF-16 surrogate (`"\ud800"`), which UTF-8 cannot: it would be stored as U+FFFD.
 * (Patterns are Unicode regular expressions: a surrogate pair is one character.)
 */
const storable = "^[^\\u0000\\ud800-\\udfff]*$";

export const IdempotencyKey = Type.String({ minLength: 1, maxLength: 256, pattern: storable });
export const Duration = Type.String({ pattern: "^\\d+(\\.\\d+)?(ms|s|m|h|d)(\\*\\d+)?$" });
export const Timestamp = Type.String({ format: "date-time" });

/** Hookline's ids (`evt_01J…`, `ep_…`) and the cursors made of them. */
const Id = Type.String({ pattern: "^[A-Za-z0-9_]{1,64}$" });
const Cursor = Type.String({ pattern: "^[A-Za-z0-9_]{0,64}$" });

export const IdParams = Type.Object({ id: Id });

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$" })),
    after: Type.Optional(Cursor),
  },
  strict,
);

export const DeliveryStatus = Type.Union([
  Type.Literal("pending"),
  Type.Literal("delivering"),
  Type.Literal("succeeded"),
  Type.Literal("failed"),
  Type.Literal("cancelled"),
]);

export const EventListQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$" })),
    after: Type.Optional(Cursor),
    type: Type.Optional(EventType),
    delivery_status: Type.Optional(DeliveryStatus),
    since: Type.Optional(Timestamp),
    until: Type.Optional(Timestamp),
  },
  strict,
);

export const CreateAccountBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200, pattern: storable }) },
  strict,
);

const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: 2048, pattern: storable }),
  description: Type.String({ maxLength: 1024, pattern: storable }),
  event_types: Type.Union([Type.Array(EventType, { minItems: 1, maxItems: 200, uniqueItems: true }), Type.Null()]),
  rate_limit_per_s: Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()]),
  max_in_flight: Type.Union([Type.Integer({ minimum: 1, maximum: 10_000 }), Type.Null()]),
  retry_schedule: Type.Union([Type.Array(Duration, { maxItems: 200 }), Type.Null()]),
};

export const CreateEndpointBody = Type.Object(
  {
    url: endpointFields.url,
    description: Type.Optional(endpointFields.description),
    event_types: Type.Optional(endpointFields.event_types),
    rate_limit_per_s: Type.Optional(endpointFields.rate_limit_per_s),
    max_in_flight: Type.Optional(endpointFields.max_in_flight),
    retry_schedule: Type.Optional(endpointFields.retry_schedule),
    enabled: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const UpdateEndpointBody = Type.Object(
  {
    url: Type.Optional(endpointFields.url),
    description: Type.Optional(endpointFields.description),
    event_types: Type.Optional(endpointFields.event_types),
    rate_limit_per_s: Type.Optional(endpointFields.rate_limit_per_s),
    max_in_flight: Type.Optional(endpointFields.max_in_flight),
    retry_schedule: Type.Optional(endpointFields.retry_schedule),
    enabled: Type.Optional(Type.Boolean()),
  },
  strict,
);

export const RecoverBody = Type.Object({ since: Timestamp, until: Type.Optional(Timestamp) }, strict);

const EventFields = {
  type: EventType,
  data: Type.Record(Type.String(), Type.Unknown()),
  idempotency_key: Type.Optional(IdempotencyKey),
};

export const CreateEventBody = Type.Object(EventFields, strict);

export const BatchEventsBody = Type.Object(
  { events: Type.Array(Type.Object(EventFields, strict), { minItems: 1, maxItems: 1000 }) },
  strict,
);

export const EventTypeParams = Type.Object({ name: EventType });

/** `POST /v1/event-types` (admin): add to the catalog, or replace an entry of the same name. */
export const EventTypeBody = Type.Object(
  {
    name: EventType,
    description: Type.Optional(Type.String({ maxLength: 1000, pattern: storable })),
    schema: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    example: Type.Record(Type.String(), Type.Unknown()),
  },
  strict,
);

/** `POST /v1/sessions`: a dashboard login with the admin key, or through a portal link. */
export const CreateSessionBody = Type.Union([
  Type.Object({ admin_key: Type.String({ minLength: 1, maxLength: 200 }) }, strict),
  Type.Object({ portal_token: Type.String({ minLength: 1, maxLength: 200 }) }, strict),
]);

/** Shown by the dashboard, whose Content-Security-Policy loads images over https only. */
const HttpsUrl = Type.String({ maxLength: 2048, pattern: "^https://[^\\s]+$" });

/** `POST /v1/accounts/{id}/portal-link`: how long the link lives, and how the portal looks. */
export const PortalLinkBody = Type.Object(
  {
    expires_in_s: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    theme: Type.Optional(
      Type.Object(
        {
          product_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: storable })),
          accent_color: Type.Optional(Type.String({ pattern: "^#[0-9a-fA-F]{6}$" })),
          logo_url: Type.Optional(HttpsUrl),
        },
        strict,
      ),
    ),
  },
  strict,
);

/** `POST /v1/deliveries/retry`: every pending delivery of the (TEST) environment is attempted now. */
export const RetryPendingBody = Type.Object({ status: Type.Literal("pending") }, strict);

/** `GET /v1/listen?events=a,b`: a comma-separated list of event types (none: every type). */
export const ListenQuery = Type.Object(
  {
    events: Type.Optional(
      Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}(,[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}){0,99}$" }),
    ),
  },
  { additionalProperties: false },
);

// Responses. The server builds these shapes (api/serialize.ts); a contract test checks
// every answer it gives against them.

const Time = Type.String({ format: "date-time" });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const EventResponse = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    created_at: Time,
    environment: Type.Union([Type.Literal("test"), Type.Literal("live")]),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  strict,
);

export const EndpointResponse = Type.Object(
  {
    id: Type.String(),
    environment: Type.Union([Type.Literal("test"), Type.Literal("live")]),
    kind: Type.Union([Type.Literal("http"), Type.Literal("listen")]),
    url: Type.String(),
    description: Type.String(),
    event_types: Nullable(Type.Array(Type.String())),
    enabled: Type.Boolean(),
    disabled_reason: Nullable(Type.String()),
    secret: Type.String(),
    previous_secret_expires_at: Nullable(Time),
    rate_limit_per_s: Nullable(Type.Integer()),
    max_in_flight: Nullable(Type.Integer()),
    retry_schedule: Nullable(Type.Array(Type.String())),
    created_at: Time,
    updated_at: Time,
  },
  strict,
);

export const DeliveryResponse = Type.Object(
  {
    id: Type.String(),
    event_id: Type.String(),
    endpoint_id: Type.String(),
    status: DeliveryStatus,
    attempt_count: Type.Integer(),
    scheduled_attempts: Type.Integer(),
    max_scheduled_attempts: Type.Integer(),
    next_attempt_at: Nullable(Time),
    last_status_code: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    created_at: Time,
    updated_at: Time,
  },
  strict,
);

export const AttemptResponse = Type.Object(
  {
    id: Type.String(),
    delivery_id: Type.String(),
    started_at: Time,
    duration_ms: Type.Number(),
    status_code: Nullable(Type.Integer()),
    error: Nullable(Type.String()),
    response_snippet: Nullable(Type.String()),
    request_headers: Type.Record(Type.String(), Type.String()),
    trigger: Type.Union([Type.Literal("scheduled"), Type.Literal("manual")]),
  },
  strict,
);

const ThemeResponse = Type.Object(
  { product_name: Nullable(Type.String()), accent_color: Nullable(Type.String()), logo_url: Nullable(Type.String()) },
  strict,
);

export const SessionResponse = Type.Object(
  {
    kind: Type.Union([Type.Literal("admin"), Type.Literal("account")]),
    account: Nullable(Type.Object({ id: Type.String(), name: Type.String() }, strict)),
    csrf_token: Type.String(),
    expires_at: Time,
    theme: Nullable(ThemeResponse),
  },
  strict,
);

export const PortalLinkResponse = Type.Object({ url: Type.String(), expires_at: Time }, strict);

const StatsWindow = Type.Object(
  {
    attempts: Type.Integer(),
    succeeded: Type.Integer(),
    success_rate: Nullable(Type.Number()),
    avg_duration_ms: Nullable(Type.Number()),
  },
  strict,
);

const StatsBucket = Type.Object(
  { start: Time, attempts: Type.Integer(), succeeded: Type.Integer(), avg_duration_ms: Nullable(Type.Number()) },
  strict,
);

export const EndpointStatsResponse = Type.Object(
  {
    endpoint_id: Type.String(),
    counts: Type.Object({ pending: Type.Integer(), failed: Type.Integer() }, strict),
    counts_capped_at: Type.Integer(),
    windows: Type.Object({ "24h": StatsWindow, "7d": StatsWindow }, strict),
    series: Type.Object({ "24h": Type.Array(StatsBucket), "7d": Type.Array(StatsBucket) }, strict),
    last_attempt: Nullable(
      Type.Object(
        { at: Time, ok: Type.Boolean(), status_code: Nullable(Type.Integer()), error: Nullable(Type.String()) },
        strict,
      ),
    ),
  },
  strict,
);

export const PageOf = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ data: Type.Array(item), next_cursor: Nullable(Type.String()) }, strict);

export const AccountResponse = Type.Object({ id: Type.String(), name: Type.String(), created_at: Time }, strict);

/** `POST /v1/accounts`: the account and its two keys, shown this once (Hookline keeps only their hashes). */
export const CreatedAccountResponse = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    created_at: Time,
    keys: Type.Object({ test: Type.String(), live: Type.String() }, strict),
  },
  strict,
);

/** An entry of the event-type catalog; built-in entries have no times. */
export const EventTypeResponse = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    schema: Nullable(Type.Record(Type.String(), Type.Unknown())),
    example: Type.Record(Type.String(), Type.Unknown()),
    built_in: Type.Boolean(),
    created_at: Nullable(Time),
    updated_at: Nullable(Time),
  },
  strict,
);

export const EventTypeListResponse = Type.Object({ data: Type.Array(EventTypeResponse) }, strict);

/** `POST /v1/events/batch`: the accepted events, in the order sent. */
export const EventBatchResponse = Type.Object({ data: Type.Array(EventResponse) }, strict);

export const RecoverResponse = Type.Object({ recovered: Type.Integer({ minimum: 0 }) }, strict);
export const RetryPendingResponse = Type.Object({ retried: Type.Integer({ minimum: 0 }) }, strict);

/** Every error the API answers: a machine code and a human message. */
export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }, strict) },
  strict,
);

export const HealthResponse = Type.Object({ status: Type.Literal("ok") }, strict);
export const ReadyResponse = Type.Object({ status: Type.Literal("ready") }, strict);
export const UnavailableResponse = Type.Object({ status: Type.Literal("unavailable"), reason: Type.String() }, strict);

export type CreateEventRequest = Static<typeof CreateEventBody>;
export type CreateEndpointRequest = Static<typeof CreateEndpointBody>;
export type UpdateEndpointRequest = Static<typeof UpdateEndpointBody>;
export type HooklineEvent = Static<typeof EventResponse>;
export type Endpoint = Static<typeof EndpointResponse>;
export type Delivery = Static<typeof DeliveryResponse>;
export type Attempt = Static<typeof AttemptResponse>;
export type EndpointStats = Static<typeof EndpointStatsResponse>;
export type Session = Static<typeof SessionResponse>;
export type PortalLinkRequest = Static<typeof PortalLinkBody>;
export type PortalLink = Static<typeof PortalLinkResponse>;
export type Account = Static<typeof AccountResponse>;
export type EventTypeEntry = Static<typeof EventTypeResponse>;
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
