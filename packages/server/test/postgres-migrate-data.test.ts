import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { migrateData } from "../src/store/migrate-data/migrate-data.ts";
import { createSqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import { type ApiClient, apiClient, eventually } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { dropSchema, testSchema } from "./helpers/postgres.ts";
import { printedKeys, runCli, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

const url = process.env.HOOKLINE_TEST_DATABASE_URL;
// The embedded store, whatever the runner's environment says.
const ON_SQLITE = { DATABASE_URL: "", HOOKLINE_DATABASE_SCHEMA: "" };

/** Runs `hookline <args>` on the embedded store unless `env` says otherwise. */
function hookline(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { ...ON_SQLITE, ...env });
}

/** The verification table's rows: table name to [SQLite count, PostgreSQL count, verdict]. */
function verification(stdout: string): Map<string, [number, number, string]> {
  const rows = new Map<string, [number, number, string]>();
  for (const match of stdout.matchAll(/^ {2}(\w+) +([\d,]+) +([\d,]+) {2}(ok|DIFFERS)$/gm)) {
    const count = (text: string | undefined) => Number(text?.replaceAll(",", ""));
    rows.set(match[1] as string, [count(match[2]), count(match[3]), match[4] as string]);
  }
  return rows;
}

async function countRows(schema: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of ["settings", "accounts", "api_keys", "endpoints", "events", "deliveries", "attempts"]) {
      counts[table] = Number((await client.query(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0].n);
    }
    return counts;
  } finally {
    await client.end();
  }
}

async function deliveriesOf(client: ApiClient, eventId: string) {
  const response = await client.get(`/v1/events/${eventId}/deliveries`);
  assert.equal(response.status, 200);
  return response.body.data as { id: string; endpoint_id: string; status: string; attempt_count: number }[];
}

describe("hookline migrate-data: an embedded installation moves to PostgreSQL", {
  skip: url ? false : "runs in npm test's PostgreSQL pass (HOOKLINE_TEST_DATABASE_URL)",
}, () => {
  const servers: ServerProcess[] = [];
  const receivers: Receiver[] = [];
  const dirs: { remove(): void }[] = [];
  const schemas: string[] = [];
  after(async () => {
    const running = servers.filter((server) => server.child.exitCode === null && server.child.signalCode === null);
    for (const server of running) server.child.kill("SIGTERM");
    await Promise.all(servers.map((server) => server.exited));
    await Promise.all(receivers.map((receiver) => receiver.close()));
    if (url) for (const schema of schemas) await dropSchema(url, schema);
    for (const dir of dirs) dir.remove();
  });

  it("copies everything, keys and schedules included; the old keys work on PostgreSQL and pending work goes out", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const sqlite = await spawnServer(dataDir.path, ON_SQLITE);
    servers.push(sqlite);
    const admin = apiClient(sqlite.url, printedKeys(sqlite.stdout()).admin);
    const created = await admin.post("/v1/accounts", { name: "Acme" });
    assert.equal(created.status, 201);
    const acmeKey: string = created.body.keys.test;
    const acme = apiClient(sqlite.url, acmeKey);
    assert.equal((await admin.post(`/v1/accounts/${created.body.id}/portal-link`)).status, 201);

    const failing = await startReceiver(answer(500));
    const healthy = await startReceiver(answer(204));
    // Never answers: its delivery is mid-attempt (claimed) when the server dies.
    const hanging = await startReceiver(() => {});
    receivers.push(failing, healthy, hanging);
    const endpoint = async (body: Record<string, unknown>) => {
      const response = await acme.post("/v1/endpoints", body);
      assert.equal(response.status, 201, JSON.stringify(response.body));
      return response.body as { id: string; secret: string };
    };
    const failingEp = await endpoint({
      url: `${failing.url}/f`,
      event_types: ["order.created"],
      retry_schedule: ["1h", "2h"],
    });
    const healthyEp = await endpoint({ url: `${healthy.url}/h`, event_types: ["order.created"] });
    const hangingEp = await endpoint({ url: `${hanging.url}/s`, event_types: ["slow.thing"] });
    const disabledEp = await endpoint({ url: `${healthy.url}/off`, event_types: ["never.sent"] });
    assert.equal((await acme.patch(`/v1/endpoints/${disabledEp.id}`, { enabled: false })).status, 200);

    const first = await acme.post(
      "/v1/events",
      { type: "order.created", data: { n: 1 } },
      { "idempotency-key": "o-1" },
    );
    const second = await acme.post("/v1/events", { type: "order.created", data: { n: 2 } });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    const orders = [first.body.id as string, second.body.id as string];
    await healthy.waitFor(2);
    // Both failed first attempts recorded: pending, next attempt in an hour.
    await eventually(
      async () => {
        const all = (await Promise.all(orders.map((id) => deliveriesOf(acme, id)))).flat();
        return all.every((d) => d.attempt_count === 1 && d.status !== "delivering") ? true : undefined;
      },
      10_000,
      "the first attempts to be recorded",
    );
    const slow = await acme.post("/v1/events", { type: "slow.thing", data: {} });
    assert.equal(slow.status, 202);
    await hanging.waitFor(1);
    const [claimed] = await eventually(async () => {
      const found = await deliveriesOf(acme, slow.body.id);
      return found[0]?.status === "delivering" ? found : undefined;
    });
    assert.equal(claimed?.endpoint_id, hangingEp.id);

    const busy = await hookline([
      "migrate-data",
      "--from",
      dataDir.path,
      "--to",
      url as string,
      "--schema",
      testSchema(),
    ]);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, /is in use \(is Hookline still running on it\?\)/);

    // What the API shows before the move, to compare after it.
    const before = {
      accounts: (await admin.get("/v1/accounts")).body,
      endpoints: (await acme.get("/v1/endpoints")).body,
      events: (await acme.get("/v1/events")).body,
      deliveries: await Promise.all(orders.map((id) => deliveriesOf(acme, id))),
    };
    const healthyDeliveries = before.deliveries.flat().filter((d) => d.endpoint_id === healthyEp.id);
    assert.deepEqual(
      healthyDeliveries.map((d) => d.status),
      ["succeeded", "succeeded"],
    );
    const failingDeliveries = before.deliveries.flat().filter((d) => d.endpoint_id === failingEp.id);
    assert.equal(failingDeliveries.length, 2);
    for (const d of failingDeliveries) {
      assert.equal(d.status, "pending");
      assert.ok(Date.parse((d as unknown as { next_attempt_at: string }).next_attempt_at) > Date.now() + 50 * 60_000);
    }
    const attemptsBefore = await Promise.all(
      failingDeliveries.map(async (d) => (await acme.get(`/v1/deliveries/${d.id}/attempts`)).body),
    );
    sqlite.child.kill("SIGKILL");
    await sqlite.exited;

    const schema = testSchema();
    schemas.push(schema);
    const moved = await hookline(["migrate-data", "--from", dataDir.path, "--to", url as string, "--schema", schema]);
    assert.equal(moved.status, 0, moved.stderr);
    const counts = verification(moved.stdout);
    const expected: Record<string, number> = {
      settings: 1,
      accounts: 2,
      api_keys: 4,
      endpoints: 4,
      events: 3,
      deliveries: 5,
      // Two per failing and healthy endpoint; the one in flight when the server died was never recorded.
      attempts: 4,
      portal_links: 1,
    };
    for (const [table, rows] of Object.entries(expected))
      assert.deepEqual(counts.get(table), [rows, rows, "ok"], table);
    for (const table of ["endpoint_stats", "event_types", "sessions"])
      assert.equal(counts.get(table)?.[2], "ok", table);
    assert.doesNotMatch(moved.stdout, /DIFFERS/);
    assert.match(moved.stdout, /every table's count matches/);
    assert.match(moved.stdout, /1 delivery was claimed by a process that no longer runs: due again now/);
    assert.match(moved.stderr, /^ {2}events +3 \/ 3 rows 100%/m, "a progress line per table on stderr");

    // The claimed delivery is due at once: the hanging receiver now answers, and gets it again.
    hanging.respondWith(answer(200));
    const unusedDir = tempDir();
    dirs.push(unusedDir);
    const postgres = await spawnServer(unusedDir.path, {
      DATABASE_URL: url as string,
      // The embedded store's generated master key: the copied secrets are encrypted with it.
      HOOKLINE_MASTER_KEY_FILE: join(dataDir.path, "master.key"),
      HOOKLINE_DATABASE_SCHEMA: schema,
    });
    servers.push(postgres);
    assert.doesNotMatch(postgres.stdout(), /First start/, "the copied admin key hash means no new keys");
    const oldAdmin = apiClient(postgres.url, printedKeys(sqlite.stdout()).admin);
    const oldAcme = apiClient(postgres.url, acmeKey);
    assert.deepEqual((await oldAdmin.get("/v1/accounts")).body, before.accounts);
    assert.deepEqual((await oldAcme.get("/v1/endpoints")).body, before.endpoints, "secrets, schedules, enabled state");
    const disabled = (await oldAcme.get(`/v1/endpoints/${disabledEp.id}`)).body;
    assert.equal(disabled.enabled, false);
    assert.deepEqual((await oldAcme.get("/v1/events")).body, before.events);
    assert.deepEqual(await Promise.all(orders.map((id) => deliveriesOf(oldAcme, id))), before.deliveries);
    const attemptsAfter = await Promise.all(
      failingDeliveries.map(async (d) => (await oldAcme.get(`/v1/deliveries/${d.id}/attempts`)).body),
    );
    assert.deepEqual(attemptsAfter, attemptsBefore);
    assert.equal(attemptsAfter[0].data[0].status_code, 500);

    const again = await hanging.waitFor(2);
    assert.equal(again[1]?.headers["webhook-id"], slow.body.id);
    await eventually(async () => {
      const [d] = await deliveriesOf(oldAcme, slow.body.id);
      return d?.id === claimed?.id && d?.status === "succeeded" && d.attempt_count === 1 ? true : undefined;
    });

    const replay = await oldAcme.post(
      "/v1/events",
      { type: "order.created", data: { n: 1 } },
      { "idempotency-key": "o-1" },
    );
    assert.equal(replay.status, 202);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(replay.body, first.body);

    // The failing receiver recovers; retrying the pending deliveries sends both, signed with the old secret.
    failing.respondWith(answer(200));
    assert.equal((await oldAcme.post("/v1/deliveries/retry", { status: "pending" })).status, 202);
    const arrived = await failing.waitFor(4);
    for (const request of arrived.slice(2)) {
      new Webhook(failingEp.secret).verify(request.body, request.headers as Record<string, string>);
    }
    assert.deepEqual(new Set(arrived.slice(2).map((r) => r.headers["webhook-id"])), new Set(orders));
    await eventually(async () => {
      const all = (await Promise.all(orders.map((id) => deliveriesOf(oldAcme, id)))).flat();
      return all.every((d) => d.status === "succeeded") ? true : undefined;
    });
    assert.equal(healthy.requests.length, 2, "nothing delivered twice to the healthy endpoint");

    // A second run into the same (now live) schema is refused and changes nothing.
    const rows = await countRows(schema);
    const twice = await hookline(["migrate-data", "--from", dataDir.path, "--to", url as string, "--schema", schema]);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, new RegExp(`PostgreSQL schema "${schema}" is not empty`));
    assert.match(twice.stderr, new RegExp(`DROP SCHEMA ${schema} CASCADE`));
    assert.deepEqual(await countRows(schema), rows);
  });

  it("says clearly what is wrong: no data directory, not a Hookline directory, not a PostgreSQL URL, no server", async () => {
    const dir = tempDir();
    dirs.push(dir);
    const empty = join(dir.path, "empty");
    mkdirSync(empty);
    // A real (empty) store, so that the source is fine and only the target is wrong.
    const store = join(dir.path, "store");
    await createSqliteStore(store).close();
    const io = { print() {}, progress: { write() {}, isTTY: false } };
    const refused = (from: string, to: string | null, message: RegExp) =>
      assert.rejects(migrateData({ from, to, schema: testSchema() }, io), message);
    await refused(join(dir.path, "nope"), url as string, /there is no data directory .*nope/);
    await refused(empty, url as string, /is not a Hookline data directory: it has no hookline\.db/);
    await refused(store, "mysql://root@127.0.0.1/db", /--to must be a PostgreSQL URL/);
    await refused(store, null, /give the PostgreSQL database with --to/);

    // And as a command: exit status 1, the message on stderr, no password in it.
    const nobody = await hookline([
      "migrate-data",
      "--from",
      store,
      "--to",
      "postgres://hookline:secret@127.0.0.1:1/db",
    ]);
    assert.equal(nobody.status, 1);
    assert.match(
      nobody.stderr,
      /^hookline: cannot connect to PostgreSQL at postgres:\/\/hookline:\*\*\*@127\.0\.0\.1:1\/db/,
    );
    assert.doesNotMatch(nobody.stderr, /secret/, "the password is not printed");
  });
});
