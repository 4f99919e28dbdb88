import { STATUS_CODES } from "node:http";
import type { FastifySchema, RouteOptions } from "fastify";
import { Type } from "typebox";
import { VERSION } from "../version.ts";
import { renderApiReference } from "./api-reference-page.ts";
import { SESSION_COOKIES } from "./auth.ts";
import type { Api } from "./context.ts";
import {
  AccountResponse,
  AttemptResponse,
  CreatedAccountResponse,
  DeliveryResponse,
  EndpointResponse,
  EndpointStatsResponse,
  ErrorResponse,
  EventResponse,
  EventTypeResponse,
  PortalLinkResponse,
  SessionResponse,
} from "./schemas.ts";
import { jsonText } from "./serialize.ts";

declare module "fastify" {
  interface FastifySchema {
    /** One line for the API reference (`/docs`, `/openapi.json`). */
    summary?: string;
    /** More for the reference: plain text, paragraphs separated by a blank line, `code` in backticks. */
    description?: string;
    /** The reference's section; by default the one its path names (`/v1/endpoints…`: Endpoints). */
    tags?: string[];
    /** OpenAPI security requirements, when the route checks its caller itself (no `config.auth`). */
    security?: SecurityRequirement[];
    /** Left out of the OpenAPI document: the dashboard's pages and assets. */
    hide?: boolean;
  }
}

/** An OpenAPI security requirement: scheme names, all of which must be sent. */
export type SecurityRequirement = Record<string, string[]>;

type Json = Record<string, unknown>;

/** The OpenAPI 3.1 document, as far as Hookline fills it in. */
export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  servers?: { url: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Json>;
    responses: Record<string, Json>;
    securitySchemes: Record<string, Json>;
  };
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: SecurityRequirement[];
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: Json }> };
  responses: Record<string, Json>;
}

export interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  description?: string;
  schema: Json;
}

/**
 * A documented error answer for a route's `schema.response`, beyond those every
 * route of its kind may give (400, 401, 403, 404, 413, 415: added by the generator).
 */
export function errorResponse(description: string) {
  return { description, content: { "application/json": { schema: ErrorResponse } } } as const;
}

/** A response without a body (101, 204), with what it means; the handler sends nothing. */
export function noContent(description: string) {
  return Type.Unsafe<undefined>(Type.Null({ description }));
}

/**
 * Collects every route as it is registered and, unless `serve` is false (a worker
 * node's health-only server), serves the OpenAPI 3.1 document built from the routes'
 * own schemas at `GET /openapi.json`, and a reference page rendered from it at
 * `GET /docs`. Call before any route is added.
 *
 * Response schemas (`schema.response`) document the answers and type-check the
 * handlers; answers are still written by `JSON.stringify`, exactly as without them
 * (Fastify's schema-based serializer would drop any field a schema does not name).
 * A test checks real answers against them instead.
 */
export function installOpenApi(app: Api, options: { serve: boolean; publicUrl: string | null }): void {
  const routes: RouteOptions[] = [];
  app.addHook("onRoute", (route) => {
    routes.push(route);
  });
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  if (!options.serve) return;

  // Built on first use, once every route is registered; routes never change after start.
  let built: { json: string; page: ReturnType<typeof renderApiReference> } | null = null;
  const reference = () => {
    if (!built) {
      const document = openApiDocument(routes, options.publicUrl);
      built = { json: JSON.stringify(document), page: renderApiReference(document) };
    }
    return built;
  };

  app.get(
    "/openapi.json",
    {
      schema: {
        summary: "This API as an OpenAPI 3.1 document",
        description: "Generated from the schemas that validate each request; the same document as the page at `/docs`.",
        response: {
          200: Type.Object(
            { openapi: Type.Literal("3.1.0") },
            { description: "The OpenAPI document", additionalProperties: true },
          ),
        },
      },
    },
    async (_request, reply) =>
      reply
        .type("application/json; charset=utf-8")
        .headers({ "cache-control": "no-cache", "x-content-type-options": "nosniff" })
        .send(jsonText<{ openapi: "3.1.0" }>(reference().json)),
  );

  app.get(
    "/docs",
    {
      schema: {
        summary: "This reference, as a web page",
        response: {
          200: {
            description: "A self-contained HTML page (no scripts)",
            content: { "text/html": { schema: Type.String() } },
          },
        },
      },
    },
    async (_request, reply) => {
      const { html, styleHash } = reference().page;
      // Nothing but the page's own stylesheet may load or run; never framed.
      return reply
        .type("text/html; charset=utf-8")
        .headers({
          "content-security-policy": [
            "default-src 'none'",
            `style-src '${styleHash}'`,
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
          ].join("; "),
          "x-content-type-options": "nosniff",
          "x-frame-options": "DENY",
          "referrer-policy": "no-referrer",
          "cache-control": "no-cache",
        })
        .send(html);
    },
  );
}

/** Shared schemas, shown once under `components` and referred to by name wherever they appear. */
const COMPONENT_SCHEMAS: Record<string, unknown> = {
  Account: AccountResponse,
  CreatedAccount: CreatedAccountResponse,
  Endpoint: EndpointResponse,
  EndpointStats: EndpointStatsResponse,
  Event: EventResponse,
  Delivery: DeliveryResponse,
  Attempt: AttemptResponse,
  EventType: EventTypeResponse,
  Session: SessionResponse,
  PortalLink: PortalLinkResponse,
  Error: ErrorResponse,
};

/** The answers every route of a kind may give, by status: when the generator adds them, and what they mean. */
const COMMON_ERRORS: { status: string; name: string; description: string; applies: (route: RouteFacts) => boolean }[] =
  [
    {
      status: "400",
      name: "BadRequest",
      description:
        "`invalid_request` or `invalid_json`: the request does not match its schema (unknown fields are refused); the message says where",
      applies: (r) => r.validates || r.auth !== undefined,
    },
    {
      status: "401",
      name: "Unauthorized",
      description: "`unauthorized`: no key, an unknown key, or a session that has ended",
      applies: (r) => r.auth !== undefined,
    },
    {
      status: "403",
      name: "Forbidden",
      description:
        "`forbidden`, `wrong_key` or `csrf_token_invalid`: this key or session may not use the route, or a session's change lacks its CSRF token",
      applies: (r) => r.auth !== undefined,
    },
    {
      status: "404",
      name: "NotFound",
      description:
        "`not_found`: no such id in the key's account and environment (another account's or environment's ids are not found either)",
      applies: (r) => r.hasPathParams,
    },
    {
      status: "413",
      name: "PayloadTooLarge",
      description: "`payload_too_large`: the body is larger than the server accepts",
      applies: (r) => r.hasBody,
    },
    {
      status: "415",
      name: "UnsupportedMediaType",
      description: "`unsupported_media_type`: the body is not `application/json`",
      applies: (r) => r.hasBody,
    },
  ];

interface RouteFacts {
  auth: "admin" | "account" | "any" | undefined;
  validates: boolean;
  hasBody: boolean;
  hasPathParams: boolean;
}

const TAGS: { name: string; description: string }[] = [
  {
    name: "Accounts",
    description:
      "The platform's customers (admin key). Each has a TEST and a LIVE environment with a key of its own, and can be given a portal link to its own dashboard.",
  },
  {
    name: "Endpoints",
    description:
      "The URLs an account's events are delivered to, each with its signing secret, event-type filter, rate limit and retry schedule.",
  },
  {
    name: "Events",
    description:
      "What happened in the platform. Accepting an event fans it out, in the same transaction, to one delivery per matching enabled endpoint.",
  },
  {
    name: "Deliveries",
    description:
      "One event to one endpoint, retried on its schedule until the receiver answers 2xx; each try is an attempt in the delivery's log.",
  },
  {
    name: "Event types",
    description: "The catalog of event types, with examples: built-in entries and the operator's own.",
  },
  {
    name: "Dashboard sessions",
    description:
      "The dashboard's logins: an HttpOnly session cookie, and a CSRF token that every change must send back in `x-csrf-token`.",
  },
  {
    name: "Listen",
    description:
      "`hookline listen`: the account's TEST events relayed over a WebSocket to a developer's machine, with no tunnel.",
  },
  { name: "Operations", description: "Health probes and this reference. No key needed." },
];

const TAG_OF_SEGMENT: Record<string, string> = {
  accounts: "Accounts",
  endpoints: "Endpoints",
  events: "Events",
  deliveries: "Deliveries",
  "event-types": "Event types",
  session: "Dashboard sessions",
  sessions: "Dashboard sessions",
  listen: "Listen",
};

const DESCRIPTION = `Hookline delivers webhooks: it takes events from the platform and POSTs each one, signed, to every endpoint that wants it, retrying until the receiver answers 2xx.

JSON in and out, snake_case fields. Send an account key (\`hl_test_…\` or \`hl_live_…\`) or, for operator routes, the admin key (\`hl_admin_…\`) as \`Authorization: Bearer <key>\`. The key alone decides which account and environment a request sees: ids of another account or environment answer 404.

Errors always have the shape \`{"error":{"code":"…","message":"…"}}\`, with a fitting status and a machine-readable \`code\`. Unknown fields are refused, not ignored.

Lists take \`limit\` (1–250, default 50) and \`after\` (a cursor) and answer \`{"data":[…],"next_cursor":"…"}\`; \`next_cursor\` is \`null\` on the last page.`;

/** Builds the OpenAPI 3.1 document of the routes (HEAD twins and hidden routes left out). */
export function openApiDocument(routes: readonly RouteOptions[], publicUrl: string | null): OpenApiDocument {
  const refs = componentRefs(COMPONENT_SCHEMAS);
  const paths: OpenApiDocument["paths"] = {};
  const usedTags = new Set<string>();
  const operationIds = new Set<string>();
  for (const route of routes) {
    const schema: FastifySchema = route.schema ?? {};
    // @fastify/websocket hides its routes (for Swagger 2's sake); this document describes their upgrade.
    if (schema.hide && route.websocket !== true) continue;
    for (const method of [route.method].flat()) {
      if (method === "HEAD") continue;
      const op = operation(route, method, refs);
      if (operationIds.has(op.operationId)) throw new Error(`two routes make the operationId ${op.operationId}`);
      operationIds.add(op.operationId);
      for (const tag of op.tags) usedTags.add(tag);
      const path = openApiPath(route.url);
      paths[path] = { ...paths[path], [method.toLowerCase()]: op };
    }
  }
  const responses: Record<string, Json> = {};
  for (const error of COMMON_ERRORS) {
    responses[error.name] = {
      description: error.description,
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  responses.Error = {
    description:
      "Any other error, in the same shape: e.g. 429 `rate_limited` (with `retry-after`), 500 `internal_error`, 503 while the server stops",
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
  const tags = [
    ...TAGS.filter((tag) => usedTags.has(tag.name)),
    ...[...usedTags]
      .filter((name) => !TAGS.some((tag) => tag.name === name))
      .map((name) => ({ name, description: "" })),
  ];
  return {
    openapi: "3.1.0",
    info: { title: "Hookline API", version: VERSION, description: DESCRIPTION },
    ...(publicUrl ? { servers: [{ url: publicUrl }] } : {}),
    tags,
    paths,
    components: { schemas: refs.components, responses, securitySchemes: SECURITY_SCHEMES },
  };
}

const SECURITY_SCHEMES: Record<string, Json> = {
  adminKey: {
    type: "http",
    scheme: "bearer",
    description:
      "The admin key (`hl_admin_…`): the operator's, printed on the first start or set by `HOOKLINE_ADMIN_KEY`.",
  },
  accountKey: {
    type: "http",
    scheme: "bearer",
    description:
      "An account key (`hl_test_…` or `hl_live_…`): one account and one environment. The key alone decides which.",
  },
  operatorSession: {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIES.admin,
    description:
      "The dashboard's operator session, opened by `POST /v1/sessions` with the admin key. On account routes it names the account in the `hookline-account` header and the environment in `hookline-environment` (`test` or `live`).",
  },
  portalSession: {
    type: "apiKey",
    in: "cookie",
    name: SESSION_COOKIES.account,
    description:
      "A portal session (one account), opened by `POST /v1/sessions` with a portal link's token. Requests that use it send `hookline-session: portal` and, on account routes, `hookline-environment`.",
  },
  csrfToken: {
    type: "apiKey",
    in: "header",
    name: "x-csrf-token",
    description:
      "The session's `csrf_token`: with a session cookie, every request other than GET and HEAD sends it in this header.",
  },
};

/** Who may call a route with `config.auth`: its key, or a dashboard session (whose changes need the CSRF token). */
function securityFor(auth: RouteFacts["auth"], method: string): SecurityRequirement[] {
  if (auth === undefined) return [];
  const session = (name: string): SecurityRequirement =>
    method === "GET" ? { [name]: [] } : { [name]: [], csrfToken: [] };
  const admin = [{ adminKey: [] }, session("operatorSession")];
  const account = [{ accountKey: [] }, session("operatorSession"), session("portalSession")];
  if (auth === "admin") return admin;
  if (auth === "account") return account;
  return [{ adminKey: [] }, { accountKey: [] }, session("operatorSession"), session("portalSession")];
}

function operation(route: RouteOptions, method: string, refs: ComponentRefs): Operation {
  const schema: FastifySchema = route.schema ?? {};
  const auth = route.config?.auth;
  const facts: RouteFacts = {
    auth,
    validates: [schema.body, schema.querystring, schema.params, schema.headers].some((s) => s !== undefined),
    hasBody: schema.body !== undefined,
    hasPathParams: route.url.includes(":"),
  };
  const parameters = [
    ...parametersOf(schema.params, "path"),
    ...parametersOf(schema.querystring, "query"),
    ...parametersOf(schema.headers, "header"),
  ];
  const op: Operation = {
    operationId: operationId(method, route.url),
    summary: schema.summary ?? `${method} ${openApiPath(route.url)}`,
    ...(schema.description ? { description: schema.description } : {}),
    tags: schema.tags ?? [tagOf(route.url)],
    security: schema.security ?? securityFor(auth, method),
    ...(parameters.length ? { parameters } : {}),
    responses: {},
  };
  if (schema.body !== undefined) {
    op.requestBody = { required: true, content: { "application/json": { schema: refs.use(plain(schema.body)) } } };
  }
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  for (const [status, response] of Object.entries(declared)) op.responses[status] = responseOf(status, response, refs);
  for (const error of COMMON_ERRORS) {
    if (error.applies(facts) && !(error.status in op.responses)) {
      op.responses[error.status] = { $ref: `#/components/responses/${error.name}` };
    }
  }
  op.responses.default ??= { $ref: "#/components/responses/Error" };
  return op;
}

/** One entry of `schema.response`: a schema (JSON), or Fastify's `{description?, content: {type: {schema}}}`. */
function responseOf(status: string, response: unknown, refs: ComponentRefs): Json {
  const given = plain(response);
  if (isObject(given.content)) {
    const content: Record<string, { schema: Json }> = {};
    for (const [type, entry] of Object.entries(given.content)) {
      content[type] = { schema: refs.use(plain((entry as { schema: unknown }).schema)) };
    }
    return { description: describe(status, given.description), content };
  }
  if (given.type === "null") return { description: describe(status, given.description) };
  return {
    description: describe(status, given.description),
    content: { "application/json": { schema: refs.use(given) } },
  };
}

function describe(status: string, description: unknown): string {
  return typeof description === "string" ? description : (STATUS_CODES[status] ?? status);
}

/** The properties of a params, querystring or headers schema, as OpenAPI parameters. */
function parametersOf(schema: unknown, where: Parameter["in"]): Parameter[] {
  if (schema === undefined) return [];
  const object = plain(schema);
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  const properties = (object.properties ?? {}) as Record<string, Json>;
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

interface ComponentRefs {
  components: Record<string, Json>;
  /** The schema with every shared part replaced by a `$ref` to its component. */
  use(schema: Json): Json;
}

/**
 * Shared schemas are recognised by their JSON, so a schema built again from the same
 * parts (a page of endpoints: `PageOf(EndpointResponse)`) still refers to one component.
 */
function componentRefs(named: Record<string, unknown>): ComponentRefs {
  const byJson = new Map<string, string>();
  for (const [name, schema] of Object.entries(named)) byJson.set(JSON.stringify(schema), name);
  const replace = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) return value.map((item) => replace(item, false));
    if (!isObject(value)) return value;
    const name = top ? undefined : byJson.get(JSON.stringify(value));
    if (name) return { $ref: `#/components/schemas/${name}` };
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, replace(child, false)]));
  };
  const components: Record<string, Json> = {};
  for (const [name, schema] of Object.entries(named)) components[name] = replace(plain(schema), true) as Json;
  return {
    components,
    use: (schema) => {
      const name = byJson.get(JSON.stringify(schema));
      return name ? { $ref: `#/components/schemas/${name}` } : (replace(schema, true) as Json);
    },
  };
}

/** A TypeBox schema as plain JSON Schema (TypeBox's own markers are not enumerable, so JSON leaves them out). */
function plain(schema: unknown): Json {
  return JSON.parse(JSON.stringify(schema)) as Json;
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `/v1/endpoints/:id` → `/v1/endpoints/{id}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** `POST /v1/endpoints/:id/rotate-secret` → `postEndpointsByIdRotateSecret`. */
function operationId(method: string, url: string): string {
  const words = url
    .split("/")
    .filter((segment) => segment !== "" && segment !== "v1")
    .flatMap((segment) => (segment.startsWith(":") ? ["by", segment.slice(1)] : segment.split(/[^A-Za-z0-9]+/)))
    .filter(Boolean);
  return method.toLowerCase() + words.map((word) => word[0]?.toUpperCase() + word.slice(1)).join("");
}

function tagOf(url: string): string {
  const segment = /^\/v1\/([^/]+)/.exec(url)?.[1];
  if (segment === undefined) return "Operations";
  return TAG_OF_SEGMENT[segment] ?? segment;
}
