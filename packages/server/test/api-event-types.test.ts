import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertError } from "./helpers/api.ts";
import { apiClient } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";

describe("event-type catalog API", () => {
  let h: TestHookline;

  before(async () => {
    h = await startTestHookline();
  });
  after(async () => {
    await h.stop();
  });

  it("every key reads the built-in catalog, each type with a schema and a sample that fits it", async () => {
    for (const client of [h.test, h.live, h.admin]) {
      const listed = await client.get("/v1/event-types");
      assert.equal(listed.status, 200);
      const names = listed.body.data.map((t: { name: string }) => t.name);
      assert.ok(names.includes("transfer.completed") && names.includes("webhook.test"));
    }
    const one = await h.test.get("/v1/event-types/transfer.completed");
    assert.equal(one.status, 200);
    assert.equal(one.body.built_in, true);
    assert.equal(one.body.example.asset, "BTC");
    assert.equal(one.body.schema.type, "object");
    assertError(await h.test.get("/v1/event-types/no.such.type"), 404, "not_found");
    assertError(await apiClient(h.url).get("/v1/event-types"), 401);
  });

  it("the admin adds and replaces types; the sample must fit the schema", async () => {
    const type = {
      name: "payout.sent",
      description: "Money left for a bank account.",
      schema: { type: "object", properties: { amount: { type: "integer" } }, required: ["amount"] },
      example: { amount: 100 },
    };
    assertError(await h.test.post("/v1/event-types", type), 403, "forbidden");
    const created = await h.admin.post("/v1/event-types", type);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.built_in, false);
    assert.deepEqual((await h.test.get("/v1/event-types/payout.sent")).body.example, { amount: 100 });

    assertError(
      await h.admin.post("/v1/event-types", { ...type, example: { amount: "100" } }),
      422,
      "example_mismatch",
    );
    assertError(await h.admin.post("/v1/event-types", { ...type, schema: { type: 12 } }), 422, "invalid_schema");
    assertError(await h.admin.post("/v1/event-types", { ...type, name: "bad name" }), 400);
    assertError(await h.admin.post("/v1/event-types", { ...type, extra: true }), 400);

    // Replacing a type whose schema has an $id works every time.
    const withId = { ...type, name: "payout.failed", schema: { ...type.schema, $id: "https://example.com/payout" } };
    assert.equal((await h.admin.post("/v1/event-types", withId)).status, 201);
    assert.equal((await h.admin.post("/v1/event-types", withId)).status, 201);

    // An operator's type of a built-in name replaces it.
    const replaced = await h.admin.post("/v1/event-types", {
      name: "transfer.completed",
      schema: null,
      example: { custom: true },
    });
    assert.equal(replaced.status, 201);
    const read = await h.live.get("/v1/event-types/transfer.completed");
    assert.deepEqual(read.body.example, { custom: true });
    assert.equal(read.body.built_in, false);
  });
});
