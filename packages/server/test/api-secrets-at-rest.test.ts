import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import type { Config } from "../src/config.ts";
import { type Hookline, startHookline } from "../src/hookline.ts";
import { hashKey, newSigningSecret } from "../src/ids.ts";
import { masterKeyId } from "../src/store/secret-box.ts";
import type { Scope } from "../src/store/store.ts";
import { apiClient, eventually } from "./helpers/client.ts";
import { setEndpointColumns, startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";
import { runCli, spawnServer } from "./helpers/process.ts";
import { answer, type ReceivedRequest, type Receiver, startReceiver } from "./helpers/receiver.ts";

// Signing secrets are encrypted at rest under the master key: whoever gets the
// database (a backup, a dump, a disk) gets nothing that signs a webhook.

const postgresUrl = process.env.HOOKLINE_TEST_DATABASE_URL;
const KEY_A = Buffer.alloc(32, 0xa1).toString("base64");
const KEY_B = Buffer.alloc(32, 0xb2).toString("base64");
const silent = pino({ level: "silent" });

/** Everything the store holds, as bytes: the SQLite files, or every row of every table in the schema. */
async function storedBytes(config: Config): Promise<Buffer> {
  if (config.databaseUrl) {
    const client = new pg.Client({ connectionString: config.databaseUrl });
    await client.connect();
    try {
      const tables = await client.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
        [config.databaseSchema],
      );
      assert.ok(tables.rows.length >= 5, "found the schema's tables");
      const parts: string[] = [];
      for (const { table_name } of tables.rows) {
        const rows = await client.query(`SELECT t::text AS row FROM ${config.databaseSchema}."${table_name}" t`);
        for (const { row } of rows.rows) parts.push(row);
      }
      return Buffer.from(parts.join("\n"));
    } finally {
      await client.end();
    }
  }
  const files = readdirSync(config.dataDir).filter((name) => name !== "master.key");
  assert.ok(files.includes("hookline.db"));
  return Buffer.concat(files.map((name) => readFileSync(join(config.dataDir, name))));
}

/** The ways a secret could show up in stored bytes: its text, its key bytes, their base64 without the prefix. */
function tracesOf(secret: string): Buffer[] {
  const encoded = secret.slice("whsec_".length);
  return [Buffer.from(secret), Buffer.from(encoded), Buffer.from(encoded, "base64")];
}

describe("signing secrets at rest", () => {
  let h: TestHookline;
  let receiver: Receiver;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_MASTER_KEY: KEY_A, HOOKLINE_RETRY_SCHEDULE: "50ms" });
    receiver = await startReceiver(answer(204));
  });
  after(async () => {
    await receiver?.close();
    await h?.stop();
  });

  it("are encrypted in the database: no whsec_ and no secret's bytes anywhere; they still sign", async () => {
    const secrets: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await h.test.post("/v1/endpoints", { url: receiver.url, description: `ep ${i}` });
      assert.equal(created.status, 201);
      secrets.push(created.body.secret);
    }
    const first = (await h.test.get("/v1/endpoints")).body.data[0];
    const rotated = await h.test.post(`/v1/endpoints/${first.id}/rotate-secret`, {});
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    secrets.push(rotated.body.secret);
    const scope = (await h.hookline.store.findKey(hashKey(h.keys.test))) as Scope;
    const listener = await h.hookline.store.openListener(
      scope,
      null,
      newSigningSecret(),
      { node: "n", until: 0 },
      Date.now(),
    );
    secrets.push(listener.secret);
    assert.equal(new Set(secrets).size, secrets.length);

    // Read back plain, and the webhook verifies with it.
    assert.equal((await h.test.get(`/v1/endpoints/${first.id}`)).body.secret, rotated.body.secret);
    const sent = await h.test.post("/v1/events", { type: "transfer.completed", data: { amount: 1 } });
    assert.equal(sent.status, 202);
    await receiver.waitFor(3);
    const request = receiver.requests.find((r) => r.headers["webhook-id"] === sent.body.id) as ReceivedRequest;
    new Webhook(rotated.body.secret).verify(request.body, request.headers as Record<string, string>);

    await h.hookline.stop();
    const stored = await storedBytes(h.config);
    assert.equal(stored.includes("whsec_"), false, "no whsec_ in the stored data");
    for (const secret of secrets) {
      for (const trace of tracesOf(secret))
        assert.equal(stored.includes(trace), false, `a trace of ${secret} is stored`);
    }
    assert.ok(stored.includes("hlenc:v1:"), "the sealed form is what is stored");
  });

  it("secrets stored before encryption existed are encrypted at the next start, leaving no trace", async () => {
    const node = await startHookline(h.config, silent);
    const client = apiClient(node.url, h.keys.test);
    const endpoints = (await client.get("/v1/endpoints")).body.data as { id: string; secret: string }[];
    await node.stop();
    // What an installation from before this version holds: the secrets in plain text.
    for (const endpoint of endpoints) {
      await setEndpointColumns(h.config, endpoint.id, { secret: endpoint.secret, previous_secret: null });
    }
    const upgraded = await startHookline(h.config, silent);
    assert.deepEqual(
      (await apiClient(upgraded.url, h.keys.test).get("/v1/endpoints")).body.data.map(
        (e: { secret: string }) => e.secret,
      ),
      endpoints.map((e) => e.secret),
    );
    await upgraded.stop();
    const stored = await storedBytes(h.config);
    for (const { secret } of endpoints) {
      for (const trace of tracesOf(secret))
        assert.equal(stored.includes(trace), false, `a trace of ${secret} is stored`);
    }
  });

  it("a wrong master key fails start-up with a clear message, and the right one starts", async () => {
    await assert.rejects(startHookline({ ...h.config, masterKey: KEY_B }, silent), (error: Error) => {
      assert.match(error.message, /encrypted with master key [0-9a-f]{8}, but this process has [0-9a-f]{8}/);
      assert.match(error.message, /HOOKLINE_MASTER_KEY/);
      return true;
    });
    const again = await startHookline(h.config, silent);
    await again.stop();
  });

  it("rotating the master key: the old key is kept for reading, every secret is re-encrypted, then the old key can go", async () => {
    const withBoth = { ...h.config, masterKey: KEY_B, oldMasterKeys: [KEY_A] };
    const secretsOf = async (node: Hookline) =>
      (await apiClient(node.url, h.keys.test).get("/v1/endpoints")).body.data.map((e: { secret: string }) => e.secret);
    let node = await startHookline(withBoth, silent);
    const before = await secretsOf(node);
    assert.equal(before.length, 4, "secrets sealed with the old key still read (3 endpoints and the listener)");
    // PostgreSQL nodes keep running through a rotation; the embedded store's one process stops for it.
    const online = h.config.databaseUrl !== null;
    if (!online) await node.stop();
    try {
      const env: Record<string, string> = {
        HOOKLINE_DATA_DIR: h.config.dataDir,
        HOOKLINE_MASTER_KEY: KEY_B,
        HOOKLINE_OLD_MASTER_KEYS: KEY_A,
        DATABASE_URL: h.config.databaseUrl ?? "",
        HOOKLINE_DATABASE_SCHEMA: online ? h.config.databaseSchema : "",
      };
      const run = await runCli(["keys", "rotate-master"], env);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /Re-encrypted the signing secrets of 4 endpoints: all are now under master key/);
      assert.match(run.stdout, /no longer needed/);
      const twice = await runCli(["keys", "rotate-master"], env);
      assert.match(twice.stdout, /secrets of 0 endpoints/);
      if (!online) node = await startHookline(withBoth, silent);
      assert.deepEqual(await secretsOf(node), before);
    } finally {
      await node.stop();
    }
    const onlyNew = await startHookline({ ...h.config, masterKey: KEY_B, oldMasterKeys: [] }, silent);
    assert.deepEqual(await secretsOf(onlyNew), before);
    await onlyNew.stop();
    await assert.rejects(startHookline(h.config, silent), /encrypted with master key/);
  });
});

describe("the embedded store's generated master key", { skip: postgresUrl ? "embedded store only" : false }, () => {
  it("is made on first start (owner-only), and `hookline keys rotate-master` replaces it, keeping every secret", async () => {
    const dir = tempDir();
    const receiver = await startReceiver(answer(204));
    try {
      const server = await spawnServer(dir.path, { HOOKLINE_RETRY_SCHEDULE: "50ms" });
      const keyFile = join(dir.path, "master.key");
      const oldKey = readFileSync(keyFile, "utf8");
      assert.equal(Buffer.from(oldKey.trim(), "base64").length, 32);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      const testKey = /TEST key: (hl_test_\S+)/.exec(server.stdout())?.[1] as string;
      let client = apiClient(server.url, testKey);
      const created = await client.post("/v1/endpoints", { url: receiver.url });
      const whileRunning = await runCli(["keys", "rotate-master", "--data-dir", dir.path]);
      assert.equal(whileRunning.status, 1);
      assert.match(whileRunning.stderr, /another Hookline \(pid \d+\) is using the data directory/);
      const second = await runCli(["serve", "--port", "0", "--data-dir", dir.path]);
      assert.equal(second.status, 1, "a second server on the same directory is refused");
      assert.match(second.stderr, /another Hookline/);
      server.child.kill("SIGTERM");
      await server.exited;

      const run = await runCli(["keys", "rotate-master", "--data-dir", dir.path]);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /secrets of 1 endpoint:/);
      assert.match(run.stdout, /now holds the new key/);
      const newKey = readFileSync(keyFile, "utf8");
      assert.notEqual(newKey, oldKey);
      // The old key is kept beside it (backups made before need it), owner-only.
      const retired = `master.key.${masterKeyId(oldKey.trim())}`;
      assert.deepEqual(
        readdirSync(dir.path)
          .filter((name) => name.startsWith("master.key"))
          .sort(),
        ["master.key", retired],
      );
      assert.equal(readFileSync(join(dir.path, retired), "utf8"), oldKey);
      assert.equal(statSync(join(dir.path, retired)).mode & 0o777, 0o600);
      assert.match(run.stdout, /old key is kept as .*backups made before now need it/);

      const restarted = await spawnServer(dir.path, { HOOKLINE_RETRY_SCHEDULE: "50ms" });
      try {
        client = apiClient(restarted.url, testKey);
        assert.equal((await client.get(`/v1/endpoints/${created.body.id}`)).body.secret, created.body.secret);
        const sent = await client.post("/v1/events", { type: "transfer.completed", data: {} });
        const request = await eventually(() => receiver.requests.find((r) => r.headers["webhook-id"] === sent.body.id));
        new Webhook(created.body.secret).verify(request.body, request.headers as Record<string, string>);
      } finally {
        restarted.child.kill("SIGTERM");
        await restarted.exited;
      }
    } finally {
      await receiver.close();
      dir.remove();
    }
  });
});
