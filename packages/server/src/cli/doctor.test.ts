import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import { lockDataDir } from "../data-dir-lock.ts";
import { hashKey, newSigningSecret } from "../ids.ts";
import { writeKeyFile } from "../master-key.ts";
import { createSecretBox, masterKeyId, newMasterKey } from "../store/secret-box.ts";
import { createSqliteStore } from "../store/sqlite/sqlite-store.ts";
import { type Check, type DoctorDeps, formatChecks, runDoctor } from "./doctor.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "hookline-doctor-"));
  dirs.push(dir);
  return dir;
}

/** Answers like a resolver that reaches the public DNS, without asking one. */
const deps: DoctorDeps = {
  lookup: async () => [{ address: "93.184.215.14", family: 4 }],
  now: Date.now,
  egressName: "example.com",
};

function doctor(env: Record<string, string>, overrides: Partial<DoctorDeps> = {}) {
  return runDoctor({ env }, { ...deps, ...overrides });
}

function find(checks: Check[], name: string): Check {
  const check = checks.find((c) => c.name === name);
  assert.ok(check, `no "${name}" check in:\n${formatChecks(checks)}`);
  return check;
}

/** An embedded store with one endpoint whose secret is sealed with `key`, and one event made at `eventAt`. */
async function seededStore(key: string | null, eventAt = Date.now()): Promise<string> {
  const dir = tempDir();
  const store = createSqliteStore(dir);
  try {
    const account = await store.createAccount("A", { test: hashKey("hl_test_d"), live: hashKey("hl_live_d") }, eventAt);
    const scope = { accountId: account.id, environment: "test" as const };
    const secret = newSigningSecret();
    await store.createEndpoint(
      scope,
      {
        url: "http://127.0.0.1:9/",
        description: "",
        eventTypes: null,
        rateLimitPerS: null,
        maxInFlight: null,
        retrySchedule: null,
        secret: key ? createSecretBox(key).seal(secret) : secret,
      },
      eventAt,
    );
    await store.ingest([{ scope, events: [{ type: "a.b", dataJson: "{}", idempotencyKey: null }] }], eventAt);
  } finally {
    await store.close();
  }
  if (key) writeKeyFile(join(dir, "master.key"), key);
  return dir;
}

describe("hookline doctor", () => {
  it("finds nothing wrong with a fresh data directory, and makes nothing in it", async () => {
    const dir = tempDir();
    const checks = await doctor({ HOOKLINE_DATA_DIR: dir });
    assert.deepEqual(
      checks.map((c) => [c.name, c.status]),
      [
        ["config", "ok"],
        ["data directory", "ok"],
        ["server", "ok"],
        ["store", "ok"],
        ["master key", "ok"],
        ["clock", "ok"],
        ["egress", "ok"],
      ],
      formatChecks(checks),
    );
    assert.match(find(checks, "master key").message, /first start makes/);
    assert.deepEqual(readdirSync(dir), []);
    assert.match(formatChecks(checks), /Everything looks right\.$/);
    const missing = await doctor({ HOOKLINE_DATA_DIR: join(dir, "not", "yet") });
    assert.match(find(missing, "data directory").message, /does not exist yet/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("reports a bad configuration and stops there", async () => {
    const checks = await doctor({ HOOKLINE_PORT: "http" });
    assert.equal(checks.length, 1);
    assert.equal(checks[0]?.status, "fail");
    assert.match(checks[0]?.message ?? "", /HOOKLINE_PORT must be an integer/);
  });

  it("fails a data directory that is a file, and skips what lives in it", async () => {
    const file = join(tempDir(), "data");
    writeFileSync(file, "");
    const checks = await doctor({ HOOKLINE_DATA_DIR: file });
    const check = find(checks, "data directory");
    assert.equal(check.status, "fail");
    assert.match(check.message, /is not a directory/);
    assert.deepEqual(
      checks.map((c) => c.name),
      ["config", "data directory", "egress"],
    );
    assert.match(formatChecks(checks), /fix: move that file away/);
  });

  it("opens a store whose secrets the key opens, without changing its files", async () => {
    const key = newMasterKey();
    const dir = await seededStore(key);
    const before = readdirSync(dir).sort();
    const checks = await doctor({ HOOKLINE_DATA_DIR: dir });
    assert.ok(
      checks.every((c) => c.status === "ok"),
      formatChecks(checks),
    );
    assert.match(find(checks, "store").message, /up to date/);
    assert.match(find(checks, "master key").message, new RegExp(`master key ${masterKeyId(key)} .*opens every`));
    assert.match(find(checks, "clock").message, /not behind the newest stored event/);
    assert.deepEqual(readdirSync(dir).sort(), before);
  });

  it("fails when the configured master key is not the one the secrets were sealed with", async () => {
    const written = newMasterKey();
    const dir = await seededStore(written);
    const other = newMasterKey();
    const check = find(await doctor({ HOOKLINE_DATA_DIR: dir, HOOKLINE_MASTER_KEY: other }), "master key");
    assert.equal(check.status, "fail");
    assert.match(
      check.message,
      new RegExp(`sealed with master key ${masterKeyId(written)}.*has ${masterKeyId(other)}`),
    );
    // The earlier key among old_master_keys: the secrets open, the rotation is not finished.
    const rotating = find(
      await doctor({ HOOKLINE_DATA_DIR: dir, HOOKLINE_MASTER_KEY: other, HOOKLINE_OLD_MASTER_KEYS: written }),
      "master key",
    );
    assert.equal(rotating.status, "warn");
    assert.match(rotating.fix ?? "", /rotate-master/);
    unlinkSync(join(dir, "master.key"));
    const lost = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "master key");
    assert.equal(lost.status, "fail");
    assert.match(lost.message, /master\.key is missing/);
  });

  it("warns about secrets not encrypted yet", async () => {
    const dir = await seededStore(null);
    const check = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "master key");
    assert.equal(check.status, "warn");
    assert.match(check.fix ?? "", /next start encrypts them under a new one/);
    writeKeyFile(join(dir, "master.key"), newMasterKey());
    const plain = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "master key");
    assert.equal(plain.status, "warn");
    assert.match(plain.message, /the signing secrets of 1 endpoint are stored unencrypted/);
  });

  it("tells pending migrations from a store written by a newer Hookline", async () => {
    const dir = await seededStore(newMasterKey());
    const setVersion = (version: number) => {
      const db = new DatabaseSync(join(dir, "hookline.db"));
      db.exec(`PRAGMA user_version = ${version}`);
      db.close();
    };
    setVersion(1);
    const pending = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "store");
    assert.equal(pending.status, "warn");
    assert.match(pending.fix ?? "", /hookline migrate/);
    setVersion(999);
    const newer = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "store");
    assert.equal(newer.status, "fail");
    assert.match(newer.message, /newer than this Hookline knows/);
  });

  it("says whether a server holds the data directory", async () => {
    const dir = tempDir();
    const release = lockDataDir(dir);
    const running = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "server");
    release();
    assert.equal(running.status, "ok");
    assert.match(running.message, new RegExp(`pid ${process.pid}\\) is running`));
    // A pid file with no lock behind it (the process was killed), even naming a live process.
    writeFileSync(join(dir, "hookline.pid"), `${process.ppid}\n`);
    const stale = find(await doctor({ HOOKLINE_DATA_DIR: dir }), "server");
    assert.equal(stale.status, "warn");
    assert.match(stale.message, /does not hold the data directory/);
  });

  it("warns when the clock is behind the newest stored event", async () => {
    const dir = await seededStore(newMasterKey());
    const check = find(await doctor({ HOOKLINE_DATA_DIR: dir }, { now: () => Date.now() - 3_600_000 }), "clock");
    assert.equal(check.status, "warn");
    assert.match(check.message, /in this clock's future/);
  });

  it("checks that a public name resolves to public addresses", async () => {
    const dir = tempDir();
    const names: string[] = [];
    const ok = find(
      await doctor(
        { HOOKLINE_DATA_DIR: dir },
        {
          egressName: "hooks.example.net",
          lookup: async (name) => {
            names.push(name);
            return [{ address: "2606:4700::6810:84e5", family: 6 }];
          },
        },
      ),
      "egress",
    );
    assert.equal(ok.status, "ok");
    assert.deepEqual(names, ["hooks.example.net"]);

    const rewritten = find(
      await doctor({ HOOKLINE_DATA_DIR: dir }, { lookup: async () => [{ address: "10.0.0.5", family: 4 }] }),
      "egress",
    );
    assert.equal(rewritten.status, "warn");

    const failing = await doctor(
      { HOOKLINE_DATA_DIR: dir },
      { lookup: async () => Promise.reject(new Error("getaddrinfo EAI_AGAIN example.com")) },
    );
    assert.equal(find(failing, "egress").status, "fail");
    assert.match(find(failing, "egress").message, /cannot resolve example\.com: getaddrinfo EAI_AGAIN/);
    assert.match(formatChecks(failing), /1 problem, 0 warnings\.$/);

    const hanging = find(
      await doctor({ HOOKLINE_DATA_DIR: dir }, { lookup: () => new Promise(() => {}), timeoutMs: 50 }),
      "egress",
    );
    assert.equal(hanging.status, "fail");
    assert.match(hanging.message, /no answer in 50ms/);
  });
});
