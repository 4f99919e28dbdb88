import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { apiClient, eventually } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { type OwnPostgres, startOwnPostgres, TEST_MASTER_KEY } from "./helpers/postgres.ts";
import { printedKeys, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { startReceiver } from "./helpers/receiver.ts";

describe("PostgreSQL restarted under load", {
  skip: process.env.HOOKLINE_TEST_DATABASE_URL
    ? false
    : "runs in npm test's PostgreSQL pass (HOOKLINE_TEST_DATABASE_URL)",
}, () => {
  const servers: ServerProcess[] = [];
  let postgres: OwnPostgres | null = null;
  after(async () => {
    for (const server of servers) server.child.kill("SIGTERM");
    await Promise.all(servers.map((server) => server.exited));
    await postgres?.stop();
  });

  it("nodes report the outage on /readyz, recover without a restart, and lose no accepted event", async () => {
    // A server of its own: this test takes it down.
    postgres = await startOwnPostgres();
    const env = {
      DATABASE_URL: postgres.url,
      HOOKLINE_MASTER_KEY: TEST_MASTER_KEY,
      HOOKLINE_ATTEMPT_TIMEOUT: "2s",
      HOOKLINE_LEASE: "5s",
    };
    const api = await spawnServer(tempDir().path, { ...env, HOOKLINE_ROLE: "api" });
    servers.push(api);
    const worker = await spawnServer(tempDir().path, { ...env, HOOKLINE_ROLE: "worker" });
    servers.push(worker);
    const client = apiClient(api.url, printedKeys(api.stdout()).test);
    const nodes = [api, worker].map((server) => apiClient(server.url));
    const receiver = await startReceiver();
    let sending = true;
    let senders: Promise<void>[] = [];
    try {
      assert.equal((await client.post("/v1/endpoints", { url: receiver.url })).status, 201);

      // Four senders post events one by one until told to stop; only answers of 202 count as accepted.
      const accepted = new Set<string>();
      const refused = new Map<string, number>();
      senders = [1, 2, 3, 4].map(async (sender) => {
        for (let n = 0; sending; n++) {
          const answer = await client
            .post("/v1/events", { type: "restart.test", data: { sender, n } })
            .catch(() => null);
          if (answer?.status === 202) accepted.add(answer.body.id);
          else {
            const reason = String(answer?.status ?? "no answer");
            refused.set(reason, (refused.get(reason) ?? 0) + 1);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      });
      await receiver.waitFor(100, 20_000);

      const readiness = () => Promise.all(nodes.map(async (node) => (await node.get("/readyz")).status));
      await postgres.restart(async () => {
        await eventually(
          async () => ((await readiness()).every((status) => status === 503) ? true : undefined),
          10_000,
          "both nodes to report 503 on /readyz while PostgreSQL is down",
        );
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      });
      await eventually(
        async () => ((await readiness()).every((status) => status === 200) ? true : undefined),
        20_000,
        "both nodes to be ready again",
      );
      const before = accepted.size;
      await eventually(() => (accepted.size >= before + 100 ? true : undefined), 20_000, "ingest to resume");
      sending = false;
      await Promise.all(senders);
      assert.ok(refused.size > 0, "some events were refused while PostgreSQL was down");
      const delivered = () => new Set(receiver.requests.map((request) => String(request.headers["webhook-id"])));
      await eventually(
        () => ([...accepted].every((id) => delivered().has(id)) ? true : undefined),
        30_000,
        "every accepted event to be delivered",
      );
    } finally {
      sending = false;
      await Promise.all(senders);
      await receiver.close();
    }
  });
});
