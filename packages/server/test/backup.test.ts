import assert from "node:assert/strict";
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { backupStore, type RestoreOptions, restoreStore } from "../src/backup-restore.ts";
import { loadConfig } from "../src/config.ts";
import { startHookline } from "../src/hookline.ts";
import { masterKeyId, newMasterKey } from "../src/store/secret-box.ts";
import { type ApiClient, apiClient, eventually } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { printedKeys, runCli, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { answer, startReceiver } from "./helpers/receiver.ts";

/**
 * `hookline backup` of a server under steady ingest, and `hookline restore` of that backup
 * into a new data directory: everything acknowledged before the backup began is there, and
 * the restored server goes on delivering what was not delivered yet.
 */

// The embedded store with the key it makes, whatever the runner's environment says.
const EMBEDDED = {
  DATABASE_URL: "",
  HOOKLINE_DATABASE_SCHEMA: "",
  HOOKLINE_MASTER_KEY: "",
  HOOKLINE_MASTER_KEY_FILE: "",
  HOOKLINE_OLD_MASTER_KEYS: "",
};
// A delivery in flight when the backup is taken is due again once its lease ends: keep that short.
const SERVER_ENV = { ...EMBEDDED, HOOKLINE_ATTEMPT_TIMEOUT: "1s", HOOKLINE_LEASE: "2s" };

const hookline = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...EMBEDDED, ...env });

/** Every page of a list endpoint. */
async function listAll(client: ApiClient, path: string): Promise<any[]> {
  const all: any[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await client.get(`${path}${path.includes("?") ? "&" : "?"}limit=250${after ? `&after=${after}` : ""}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    all.push(...page.body.data);
    after = page.body.next_cursor;
    if (!after) return all;
  }
}

function query(file: string, sql: string, ...params: string[]): Record<string, unknown>[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    return db.prepare(sql).all(...params);
  } finally {
    db.close();
  }
}

describe("hookline backup and restore", () => {
  const root = tempDir("hookline-backup-");
  const servers: ServerProcess[] = [];
  const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
  after(async () => {
    for (const server of servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
      await server.exited;
    }
    for (const receiver of receivers) await receiver.close();
    root.remove();
  });

  it("copies a running server's store consistently, and a restore brings back all of it", async () => {
    const source = join(root.path, "source");
    const backup = join(root.path, "hookline.backup");
    // Slow answers, two at a time: most deliveries are still pending when the backup is taken.
    const receiver = await startReceiver((_request, res) => {
      setTimeout(() => res.writeHead(200).end(), 100);
    });
    receivers.push(receiver);
    const server = await spawnServer(source, SERVER_ENV);
    servers.push(server);
    const keys = printedKeys(server.stdout());
    const admin = apiClient(server.url, keys.admin);

    const created = await admin.post("/v1/accounts", { name: "Acme" });
    assert.equal(created.status, 201);
    const acme = apiClient(server.url, created.body.keys.test);
    const endpoint = await acme.post("/v1/endpoints", { url: receiver.url, max_in_flight: 2 });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    // A rotated secret: the previous one is stored (sealed) too.
    assert.equal((await acme.post(`/v1/endpoints/${endpoint.body.id}/rotate-secret`)).status, 200);
    // Some volume in the Default account (no endpoints there: stored, never delivered).
    const bulk = apiClient(server.url, keys.test);
    for (let batch = 0; batch < 10; batch++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({
        type: "ledger.entry",
        data: { batch, i, memo: "x".repeat(300) },
      }));
      assert.equal((await bulk.post("/v1/events/batch", { events })).status, 202);
    }

    // Steady ingest: each accepted event with the moment its 202 arrived.
    const accepted: { event: any; at: number }[] = [];
    let loading = true;
    const loops = Array.from({ length: 3 }, async (_, loop) => {
      for (let n = 0; loading; n++) {
        const response = await acme.post("/v1/events", { type: "transfer.completed", data: { loop, n } });
        assert.equal(response.status, 202, JSON.stringify(response.body));
        accepted.push({ event: response.body, at: Date.now() });
        await delay(10);
      }
    });
    await eventually(() => (accepted.length >= 150 ? true : undefined), 15_000, "150 events accepted");

    const backupStarted = Date.now();
    const backedUp = await hookline(["backup", backup, "--data-dir", source, "--with-key"]);
    const acceptedDuringBackup = accepted.filter((a) => a.at >= backupStarted).length;
    loading = false;
    await Promise.all(loops);
    assert.equal(backedUp.status, 0, backedUp.stderr);
    assert.ok(acceptedDuringBackup > 0, "ingest went on while the backup ran");
    const keyId = masterKeyId(readFileSync(join(source, "master.key"), "utf8").trim());
    assert.match(backedUp.stdout, new RegExp(`master key ${keyId} is in ${backup}\\.master\\.key`, "i"));
    assert.equal(readFileSync(`${backup}.master.key`, "utf8"), readFileSync(join(source, "master.key"), "utf8"));
    assert.equal(statSync(`${backup}.master.key`).mode & 0o777, 0o600);
    assert.doesNotMatch(readFileSync(backup, "latin1"), /whsec_/, "no signing secret in the clear");

    // Every event acknowledged before the backup began is in it, each with its delivery (one transaction).
    const before = accepted.filter((a) => a.at < backupStarted).map((a) => a.event.id as string);
    const inBackup = new Set(query(backup, "SELECT id FROM events").map((row) => row.id as string));
    assert.deepEqual(
      before.filter((id) => !inBackup.has(id)),
      [],
    );
    assert.ok(inBackup.size >= 10_000 + before.length);
    const orphans = query(
      backup,
      "SELECT count(*) AS n FROM events e WHERE account_id = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id = e.id)",
      created.body.id,
    );
    assert.equal(orphans[0]?.n, 0);
    const unfinished = new Set(
      query(backup, "SELECT event_id FROM deliveries WHERE status IN ('pending', 'delivering')").map(
        (row) => row.event_id as string,
      ),
    );
    assert.ok(unfinished.size > 0, "the backup holds deliveries still to make");

    // A running server's data directory is never restored over.
    const busy = await hookline(["restore", backup, "--data-dir", source, "--replace"]);
    assert.notEqual(busy.status, 0);
    assert.match(busy.stderr, /is using the data directory/);
    assert.equal((await acme.get(`/v1/events/${before[0]}`)).status, 200, "the running server is untouched");

    const accountsBefore = (await listAll(admin, "/v1/accounts")).map((account) => account.id).sort();
    const endpointsBefore = await listAll(acme, "/v1/endpoints");
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);

    // Restore into a new data directory, with the key, and start a server on it.
    const restoredDir = join(root.path, "restored");
    const restored = await hookline(["restore", backup, "--data-dir", restoredDir, "--with-key"]);
    assert.equal(restored.status, 0, restored.stderr);
    assert.match(restored.stdout, /Restored/);
    assert.match(restored.stdout, new RegExp(`open with master key ${keyId}`));
    assert.equal(statSync(join(restoredDir, "master.key")).mode & 0o777, 0o600);
    receiver.requests.length = 0;
    receiver.respondWith(answer(200));
    const second = await spawnServer(restoredDir, SERVER_ENV);
    servers.push(second);
    assert.doesNotMatch(second.stdout(), /First start/, "the restored store is not new");
    const admin2 = apiClient(second.url, keys.admin);
    const acme2 = apiClient(second.url, created.body.keys.test);

    assert.deepEqual((await listAll(admin2, "/v1/accounts")).map((account) => account.id).sort(), accountsBefore);
    assert.deepEqual(await listAll(acme2, "/v1/endpoints"), endpointsBefore, "endpoints, with their secrets");
    const events = new Map((await listAll(acme2, "/v1/events")).map((event) => [event.id as string, event]));
    for (const { event } of accepted.filter((a) => a.at < backupStarted)) {
      assert.deepEqual(events.get(event.id), event);
    }

    // What was still to be delivered goes out, signed with the restored secret.
    const restoredDb = join(restoredDir, "hookline.db");
    await eventually(
      () => {
        const [row] = query(restoredDb, "SELECT count(*) AS n FROM deliveries WHERE status <> 'succeeded'");
        return row?.n === 0 ? true : undefined;
      },
      20_000,
      "every delivery to succeed",
    );
    const received = new Set(receiver.requests.map((request) => request.headers["webhook-id"] as string));
    assert.deepEqual(
      [...unfinished].filter((id) => !received.has(id)),
      [],
    );
    const signer = new Webhook(endpointsBefore[0].secret);
    for (const request of receiver.requests) signer.verify(request.body, request.headers as Record<string, string>);
    const attempts = await acme2.get(
      `/v1/deliveries/${(await acme2.get(`/v1/events/${before[0]}/deliveries`)).body.data[0].id}/attempts`,
    );
    assert.ok(attempts.body.data.length >= 1, "attempt logs came along");
    second.child.kill("SIGTERM");
    assert.equal(await second.exited, 0);
  });

  it("refuses a damaged file, a file that is not a Hookline store, and secrets the key cannot open", async () => {
    // In this process (each refusal is the same code the command runs; process starts are slow).
    const source = join(root.path, "small");
    const config = (dataDir: string, env: Record<string, string> = {}) =>
      loadConfig({ env: { ...EMBEDDED, HOOKLINE_PORT: "0", HOOKLINE_DATA_DIR: dataDir, ...env } });
    const started = await startHookline(config(source), pino({ level: "silent" }));
    const client = apiClient(started.url, started.firstStart?.testKey);
    const endpoint = await client.post("/v1/endpoints", { url: "http://127.0.0.1:9/x" });
    await started.stop();
    assert.equal(endpoint.status, 201);
    const backup = join(root.path, "small.backup");
    const printed: string[] = [];
    backupStore(config(source), backup, { withKey: false }, (text) => printed.push(text));
    const sourceKey = readFileSync(join(source, "master.key"), "utf8").trim();
    const keyId = masterKeyId(sourceKey);
    assert.match(printed.join("\n"), new RegExp(`encrypted with master key ${keyId}, which is NOT in the backup`));
    assert.ok(!existsSync(`${backup}.master.key`));

    const damaged = join(root.path, "damaged.backup");
    copyFileSync(backup, damaged);
    const fd = openSync(damaged, "r+");
    writeSync(fd, Buffer.alloc(4096 * 3, 0x5a), 0, 4096 * 3, 4096);
    closeSync(fd);
    const other = join(root.path, "other.db");
    const db = new DatabaseSync(other);
    db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('not ours')");
    db.close();
    const otherKey = newMasterKey();

    const target = join(root.path, "target");
    const restore = (file: string, env: Record<string, string> = {}, options: Partial<RestoreOptions> = {}) =>
      restoreStore(config(target, env), file, { withKey: false, replace: false, ...options }, () => {});
    const refused = (file: string, pattern: RegExp, env: Record<string, string> = {}, options = {}) => {
      assert.throws(() => restore(file, env, options), pattern);
      assert.ok(!existsSync(join(target, "hookline.db")), "nothing restored");
      assert.ok(!existsSync(join(target, "hookline.db.restoring")), "nothing left behind");
      assert.ok(!existsSync(join(target, "hookline.pid")), "the lock is released");
    };
    refused(damaged, /is damaged/);
    refused(other, /not a Hookline store/);
    refused(join(source, "master.key"), /not a Hookline backup/);
    // The secrets need the source's key: another configured key, or none at all, is refused.
    refused(backup, new RegExp(`master key ${keyId}, but this Hookline has ${masterKeyId(otherKey)}`), {
      HOOKLINE_MASTER_KEY: otherKey,
    });
    refused(backup, /has no master key: restore with --with-key/);
    refused(backup, /needs the key file/, {}, { withKey: true });

    // The right key, configured: restored; a second restore must be told to replace.
    restore(backup, { HOOKLINE_MASTER_KEY: sourceKey });
    assert.throws(() => restore(backup, { HOOKLINE_MASTER_KEY: sourceKey }), /add --replace/);
    restore(backup, { HOOKLINE_MASTER_KEY: sourceKey }, { replace: true });
    const again = await startHookline(config(target, { HOOKLINE_MASTER_KEY: sourceKey }), pino({ level: "silent" }));
    try {
      const endpoints = await apiClient(again.url, started.firstStart?.testKey).get("/v1/endpoints");
      assert.equal(endpoints.body.data[0].secret, endpoint.body.secret);
    } finally {
      await again.stop();
    }

    // The commands exit non-zero with the message; PostgreSQL has its own tools.
    const [pgBackup, pgRestore] = await Promise.all(
      ["backup", "restore"].map((command) =>
        hookline([command, backup], { DATABASE_URL: "postgres://hookline@127.0.0.1:1/hookline" }),
      ),
    );
    assert.notEqual(pgBackup?.status, 0);
    assert.match(pgBackup?.stderr ?? "", /hookline: .*pg_dump/);
    assert.notEqual(pgRestore?.status, 0);
    assert.match(pgRestore?.stderr ?? "", /hookline: .*pg_restore/);
  });

  it("restore --with-key changes the key only once the store is in place, and keeps the one it replaces", async () => {
    const config = (dataDir: string) =>
      loadConfig({ env: { ...EMBEDDED, HOOKLINE_PORT: "0", HOOKLINE_DATA_DIR: dataDir } });
    const made = async (dataDir: string) => {
      const started = await startHookline(config(dataDir), pino({ level: "silent" }));
      const client = apiClient(started.url, started.firstStart?.testKey);
      assert.equal((await client.post("/v1/endpoints", { url: "http://127.0.0.1:9/x" })).status, 201);
      await started.stop();
      return readFileSync(join(dataDir, "master.key"), "utf8").trim();
    };
    const source = join(root.path, "keyed-source");
    const target = join(root.path, "keyed-target");
    const sourceKey = await made(source);
    const targetKey = await made(target);
    assert.notEqual(sourceKey, targetKey);
    const backup = join(root.path, "keyed.backup");
    backupStore(config(source), backup, { withKey: true }, () => {});
    const restore = () =>
      restoreStore(config(target), backup, { withKey: true, replace: true }, (text) => printed.push(text));
    const printed: string[] = [];

    // The store in place is busy (a reader holds it): the restore fails, and the directory keeps
    // the key its store needs.
    const reader = new DatabaseSync(join(target, "hookline.db"));
    reader.exec("BEGIN; SELECT count(*) FROM endpoints;");
    try {
      assert.throws(restore, /open in another process/);
    } finally {
      reader.close();
    }
    assert.equal(readFileSync(join(target, "master.key"), "utf8").trim(), targetKey, "the key was not touched");
    assert.ok(!existsSync(join(target, "master.key.restoring")), "nothing left behind");

    restore();
    assert.equal(readFileSync(join(target, "master.key"), "utf8").trim(), sourceKey);
    const kept = join(target, `master.key.${masterKeyId(targetKey)}`);
    assert.equal(readFileSync(kept, "utf8").trim(), targetKey, "the replaced store's key is kept");
    assert.match(printed.join("\n"), /is kept as .*master\.key\.[0-9a-f]+/);
    const again = await startHookline(config(target), pino({ level: "silent" }));
    await again.stop();
  });
});
