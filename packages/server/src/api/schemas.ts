import { Type } from "typebox";

/** Request schemas. Unknown fields are errors everywhere (additionalProperties: false). */

const strict = { additionalProperties: false } as const;

export const EventType = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$" });
export const IdempotencyKey = Type.String({ minLength: 1, maxLength: 256 });
export const Duration = Type.String({ pattern: "^\\d+(\\.\\d+)?(ms|s|m|h|d)(\\*\\d+)?$" });
export const Timestamp = Type.String({ format: "date-time" });

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$" })),
    after: Type.Optional(Type.String({ maxLength: 64 })),
  },
  strict,
);

export const EventListQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: "^[0-9]{1,4}$" })),
    after: Type.Optional(Type.String({ maxLength: 64 })),
    type: Type.Optional(EventType),
    since: Type.Optional(Timestamp),
    until: Type.Optional(Timestamp),
  },
  strict,
);

export const CreateAccountBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, strict);

const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  description: Type.String({ maxLength: 1024 }),
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
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    schema: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    example: Type.Record(Type.String(), Type.Unknown()),
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
