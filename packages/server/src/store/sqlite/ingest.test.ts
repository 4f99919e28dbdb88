import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { claimRequest, endpointInput } from "../../../test/helpers/store-kit.ts";
import { hashKey } from "../../ids.ts";
import type { IngestRequest } from "../store.ts";
import { createSqliteStore } from "./sqlite-store.ts";

const T0 = 1_800_000_000_000;

describe("ingest, many requests in one commit", () => {
  it("fails a test event to a missing endpoint alone: the requests around it commit, it writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-ingest-"));
    const store = createSqliteStore(dir);
    try {
      const account = await store.createAccount(
        "Ingest",
        { test: hashKey("hl_test_i"), live: hashKey("hl_live_i") },
        T0,
      );
      const scope = { accountId: account.id, environment: "test" as const };
      const endpoint = await store.createEndpoint(scope, endpointInput("http://127.0.0.1:9/"), T0);
      const event = (type: string) => ({ type, dataJson: "{}", idempotencyKey: null });
      const requests: IngestRequest[] = [
        { scope, events: [event("before")] },
        { scope, events: [event("webhook.test")], onlyEndpointId: "ep_missing" },
        { scope, events: [event("after")] },
      ];
      const lease = claimRequest(T0, 10);
      const { results, claims } = await store.ingest(requests, T0, lease);

      assert.deepEqual(
        results.map((result) => (result.ok ? "ok" : result.error.code)),
        ["ok", "not_found", "ok"],
      );
      const listed = await store.listEvents(scope, {}, { limit: 10 });
      assert.deepEqual(listed.events.map((e) => e.type).sort(), ["after", "before"]);
      assert.deepEqual(
        claims.map((claim) => [claim.endpointId, claim.body.includes('"type":"webhook.test"')]),
        [
          [endpoint.id, false],
          [endpoint.id, false],
        ],
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
