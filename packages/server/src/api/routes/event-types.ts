import { Ajv } from "ajv";
import { BUILT_IN_EVENT_TYPES } from "../../catalog/built-in.ts";
import { HooklineError, invalid, notFound } from "../../errors.ts";
import type { EventTypeRecord } from "../../store/store.ts";
import type { Api, ApiContext } from "../context.ts";
import { errorResponse } from "../openapi.ts";
import { EventTypeBody, EventTypeListResponse, EventTypeParams, EventTypeResponse } from "../schemas.ts";
import { iso } from "../serialize.ts";

type CatalogEntry = Omit<EventTypeRecord, "createdAt" | "updatedAt"> & Partial<EventTypeRecord>;

/**
 * The event-type catalog: built-in examples plus the operator's own. Every key may
 * read it (the dashboard's filters, `hookline trigger`); only the admin key adds to it.
 */
export function registerEventTypeRoutes(app: Api, ctx: ApiContext): void {
  async function catalog(): Promise<Map<string, CatalogEntry>> {
    const entries = new Map<string, CatalogEntry>(BUILT_IN_EVENT_TYPES.map((type) => [type.name, type]));
    for (const type of await ctx.store.listEventTypes()) entries.set(type.name, type);
    return entries;
  }

  app.get(
    "/v1/event-types",
    {
      config: { auth: "any" },
      schema: {
        summary: "List the event-type catalog",
        description: "Built-in examples and the operator's own types, by name. Any key may read it.",
        response: { 200: EventTypeListResponse },
      },
    },
    async () => ({
      data: [...(await catalog()).values()].sort((a, b) => a.name.localeCompare(b.name)).map(eventTypeJson),
    }),
  );

  app.get(
    "/v1/event-types/:name",
    {
      config: { auth: "any" },
      schema: { summary: "Read an event type", params: EventTypeParams, response: { 200: EventTypeResponse } },
    },
    async (request) => {
      const type = (await catalog()).get(request.params.name);
      if (!type) throw notFound("event type", request.params.name);
      return eventTypeJson(type);
    },
  );

  app.post(
    "/v1/event-types",
    {
      config: { auth: "admin" },
      schema: {
        summary: "Add an event type to the catalog",
        description:
          "Adds the type, or replaces the operator's entry of the same name. A `schema` (JSON Schema of `data`) must compile and the `example` must match it.",
        body: EventTypeBody,
        response: {
          201: EventTypeResponse,
          422: errorResponse(
            "`invalid_schema` or `example_mismatch`: the schema does not compile, or the example does not match it",
          ),
        },
      },
    },
    async (request, reply) => {
      const { name, description = "", schema = null, example } = request.body;
      // Stored as JSON text: a value too deep to serialise (the stack runs out) is the sender's error, not ours.
      for (const [field, value] of [
        ["example", example],
        ["schema", schema],
      ] as const) {
        if (!serialisable(value)) throw invalid(`${field} nests too deeply`);
      }
      if (schema !== null) {
        // A fresh compiler each time: a shared one would keep every schema (and refuse a repeated `$id`).
        const ajv = new Ajv({ allErrors: false });
        let validate: ReturnType<Ajv["compile"]>;
        try {
          validate = ajv.compile(schema);
        } catch (error) {
          throw new HooklineError("invalid_schema", `schema is not a usable JSON Schema: ${(error as Error).message}`, {
            status: 422,
          });
        }
        let matches: boolean;
        try {
          matches = validate(example) as boolean;
        } catch {
          // A recursive schema walks the example as deep as it goes.
          throw invalid("example nests too deeply for its schema");
        }
        if (!matches) {
          throw new HooklineError(
            "example_mismatch",
            `example does not match schema: ${ajv.errorsText(validate.errors, { dataVar: "example" })}`,
            { status: 422 },
          );
        }
      }
      const stored = await ctx.store.putEventType({ name, description, schema, example }, ctx.now());
      return reply.code(201).send(eventTypeJson(stored));
    },
  );
}

function serialisable(value: unknown): boolean {
  try {
    JSON.stringify(value);
    return true;
  } catch {
    return false;
  }
}

function eventTypeJson(type: CatalogEntry) {
  return {
    name: type.name,
    description: type.description,
    schema: type.schema,
    example: type.example,
    built_in: type.createdAt === undefined,
    created_at: type.createdAt === undefined ? null : iso(type.createdAt),
    updated_at: type.updatedAt === undefined ? null : iso(type.updatedAt),
  };
}
