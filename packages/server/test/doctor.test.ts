import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { pino } from "pino";
import { type DoctorDeps, runDoctor } from "../src/cli/doctor.ts";
import { loadConfig } from "../src/config.ts";
import { startHookline } from "../src/hookline.ts";
import { newMasterKey } from "../src/store/secret-box.ts";
import { apiClient } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { dropSchema, startTestPostgres, TEST_MASTER_KEY, type TestPostgres, testSchema } from "./helpers/postgres.ts";
import { runCli } from "./helpers/process.ts";

// `--egress-name localhost` keeps the egress check off the network: /etc/hosts answers it.
const OFFLINE = ["--egress-name", "localhost"];

describe("hookline doctor and config print (the real command)", () => {
  const dirs: { remove(): void }[] = [];
  after(() => {
    for (const dir of dirs) dir.remove();
  });
  const dir = () => {
    const made = tempDir("hookline-doctor-");
    dirs.push(made);
    return made.path;
  };

  it("passes a fresh data directory and leaves it empty", async () => {
    const fresh = dir();
    const run = await runCli(["doctor", "--data-dir", fresh, ...OFFLINE]);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^ok +data directory +.*writable/m);
    assert.match(run.stdout, /^ok +store +.*is empty: the first start creates its tables/m);
    assert.match(run.stdout, /^warn +egress +localhost resolves to .*not to public addresses only/m);
    assert.deepEqual(readdirSync(fresh), []);
  });

  it("fails a data directory that is a file, and a master key that does not open the stored secrets", async () => {
    const file = join(dir(), "data");
    writeFileSync(file, "");
    const notDir = await runCli(["doctor", "--data-dir", file, ...OFFLINE]);
    assert.equal(notDir.status, 1, notDir.stdout + notDir.stderr);
    assert.match(notDir.stdout, /^fail +data directory +.* is not a directory\n +fix: /m);

    // A real start makes master.key and seals the endpoint's secret with it.
    const data = dir();
    const config = loadConfig({ env: { HOOKLINE_PORT: "0", HOOKLINE_DATA_DIR: data } });
    const hookline = await startHookline(config, pino({ level: "silent" }));
    try {
      const test = apiClient(hookline.url, hookline.firstStart?.testKey);
      const created = await test.post("/v1/endpoints", { url: "http://127.0.0.1:9/hooks" });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const running = await runCli(["doctor", "--data-dir", data, ...OFFLINE]);
      assert.match(running.stdout, /^ok +server +Hookline \(pid \d+\) is running/m);
    } finally {
      await hookline.stop();
    }
    const right = await runCli(["doctor", "--data-dir", data, ...OFFLINE]);
    assert.equal(right.status, 0, right.stdout + right.stderr);
    assert.match(right.stdout, /^ok +master key +.*opens every stored signing secret/m);
    const wrong = await runCli(["doctor", "--data-dir", data, ...OFFLINE], { HOOKLINE_MASTER_KEY: newMasterKey() });
    assert.equal(wrong.status, 1, wrong.stdout + wrong.stderr);
    assert.match(wrong.stdout, /^fail +master key +signing secrets in the store are sealed with master key \w{8}/m);
    assert.match(wrong.stdout, /^1 problem, 1 warning\.$/m);
  });

  it("prints the effective config with its sources, secrets masked", async () => {
    const file = join(dir(), "hookline.config.json");
    writeFileSync(
      file,
      JSON.stringify({
        attempt_timeout: "10s",
        database_url: "postgres://hl:s3cret@db:5432/hl?sslpassword=t0ken",
        system_events_url: "https://ops.example.com/hooks?token=t0ken",
      }),
    );
    const env = { HOOKLINE_ADMIN_KEY: "hl_admin_do_not_print", HOOKLINE_MASTER_KEY: TEST_MASTER_KEY };
    const run = await runCli(["config", "print", "--config", file, "--role", "api", "--json"], env);
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /do_not_print|s3cret|t0ken|BwcH/);
    const printed = JSON.parse(run.stdout);
    assert.deepEqual(printed.admin_key, { value: "***", source: "env", from: "HOOKLINE_ADMIN_KEY" });
    assert.deepEqual(printed.master_key, { value: "***", source: "env", from: "HOOKLINE_MASTER_KEY" });
    assert.deepEqual(printed.database_url, {
      value: "postgres://hl:***@db:5432/hl?sslpassword=***",
      source: "file",
      from: file,
    });
    assert.deepEqual(printed.attempt_timeout, { value: "10s", source: "file", from: file });
    assert.deepEqual(printed.role, { value: "api", source: "flag", from: "--role" });
    assert.deepEqual(printed.port, { value: 8080, source: "default", from: null });
    const table = await runCli(["config", "print", "--config", file], env);
    assert.match(table.stdout, /^attempt_timeout +10s +file /m);
    const bad = await runCli(["config", "print"], { HOOKLINE_PORT: "http" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /HOOKLINE_PORT must be an integer/);
  });
});

describe("hookline doctor on PostgreSQL", () => {
  let postgres: TestPostgres;
  const schema = testSchema();
  const offline: DoctorDeps = {
    lookup: async () => [{ address: "93.184.215.14", family: 4 }],
    now: Date.now,
    egressName: "example.com",
  };
  before(async () => {
    postgres = await startTestPostgres();
  });
  after(async () => {
    await dropSchema(postgres.url, schema);
    await postgres.stop();
  });

  it("reads the schema without creating it, compares clocks and keys", async () => {
    const env = { DATABASE_URL: postgres.url, HOOKLINE_DATABASE_SCHEMA: schema, HOOKLINE_MASTER_KEY: TEST_MASTER_KEY };
    const status = (checks: Awaited<ReturnType<typeof runDoctor>>) =>
      Object.fromEntries(checks.map((c) => [c.name, `${c.status}: ${c.message}`]));

    const empty = status(await runDoctor({ env }, offline));
    assert.match(empty.store ?? "", /^ok: .* is empty/);
    assert.match(empty.clock ?? "", /^ok: /);
    assert.equal(empty["data directory"], undefined);
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const made = await client
      .query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])
      .finally(() => client.end());
    assert.equal(made.rowCount, 0, "doctor created the schema");

    const data = tempDir();
    const config = loadConfig({ env: { ...env, HOOKLINE_PORT: "0", HOOKLINE_DATA_DIR: data.path } });
    const hookline = await startHookline(config, pino({ level: "silent" }));
    try {
      const created = await apiClient(hookline.url, hookline.firstStart?.testKey).post("/v1/endpoints", {
        url: "http://127.0.0.1:9/hooks",
      });
      assert.equal(created.status, 201);
    } finally {
      await hookline.stop();
      data.remove();
    }
    const ready = status(await runDoctor({ env }, offline));
    assert.match(ready.store ?? "", /^ok: .*up to date/);
    assert.match(ready["master key"] ?? "", /^ok: .*opens every stored signing secret/);

    const skewed = status(await runDoctor({ env }, { ...offline, now: () => Date.now() + 5000 }));
    assert.match(skewed.clock ?? "", /^warn: this machine's clock is \d+ ms ahead of the database server's/);
    const wrongKey = status(await runDoctor({ env: { ...env, HOOKLINE_MASTER_KEY: newMasterKey() } }, offline));
    assert.match(wrongKey["master key"] ?? "", /^fail: /);
    const unreachable = status(
      await runDoctor({ env: { ...env, DATABASE_URL: "postgres://hl:pw@127.0.0.1:1/hl" } }, offline),
    );
    assert.match(unreachable.store ?? "", /^fail: cannot reach .*postgres:\/\/hl:\*\*\*@127\.0\.0\.1:1\/hl/);
  });
});
