import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import pg from "pg";
import { pino } from "pino";
import { type Config, loadConfig } from "../../src/config.ts";
import { type Hookline, startHookline } from "../../src/hookline.ts";
import { type ApiClient, apiClient } from "./client.ts";
import { dropSchema, TEST_MASTER_KEY, testSchema } from "./postgres.ts";

export function tempDir(prefix = "hookline-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestHookline {
  hookline: Hookline;
  config: Config;
  url: string;
  admin: ApiClient;
  /** Client with the Default account's TEST key. */
  test: ApiClient;
  live: ApiClient;
  keys: { admin: string; test: string; live: string };
  stop(): Promise<void>;
}

/**
 * Starts Hookline in this process on a free loopback port with a fresh data
 * directory. `env` takes the same HOOKLINE_* settings as the real command. With
 * HOOKLINE_TEST_DATABASE_URL set (the test runner's PostgreSQL pass), the store
 * is PostgreSQL, in a schema of its own. `seams` reaches into the process, e.g. a
 * `resolve` that makes made-up hostnames answer whatever a test needs.
 */
export async function startTestHookline(
  env: Record<string, string> = {},
  seams: Parameters<typeof startHookline>[2] = {},
): Promise<TestHookline> {
  const dir = tempDir();
  const postgres = process.env.HOOKLINE_TEST_DATABASE_URL;
  const schema = postgres ? testSchema() : null;
  const database =
    postgres && schema
      ? { DATABASE_URL: postgres, HOOKLINE_DATABASE_SCHEMA: schema, HOOKLINE_MASTER_KEY: TEST_MASTER_KEY }
      : {};
  const config = loadConfig({ env: { HOOKLINE_PORT: "0", HOOKLINE_DATA_DIR: dir.path, ...database, ...env } });
  const logger = pino({ level: process.env.HOOKLINE_TEST_LOG ?? "silent" });
  const hookline = await startHookline(config, logger, seams);
  const first = hookline.firstStart;
  if (!first?.adminKey) throw new Error("expected a first start with generated keys");
  const keys = { admin: first.adminKey, test: first.testKey, live: first.liveKey };
  return {
    hookline,
    config,
    url: hookline.url,
    keys,
    admin: apiClient(hookline.url, keys.admin),
    test: apiClient(hookline.url, keys.test),
    live: apiClient(hookline.url, keys.live),
    async stop() {
      await hookline.stop();
      if (postgres && schema) await dropSchema(postgres, schema);
      dir.remove();
    },
  };
}

/** Sets columns of an endpoint's row straight in the database (SQLite file or PostgreSQL schema). */
export async function setEndpointColumns(
  config: Config,
  endpointId: string,
  values: Record<string, string | number | null>,
) {
  const names = Object.keys(values);
  if (config.databaseUrl) {
    const client = new pg.Client({ connectionString: config.databaseUrl });
    await client.connect();
    try {
      const assignments = names.map((name, i) => `${name} = $${i + 2}`).join(", ");
      await client.query(`UPDATE ${config.databaseSchema}.endpoints SET ${assignments} WHERE id = $1`, [
        endpointId,
        ...Object.values(values),
      ]);
    } finally {
      await client.end();
    }
    return;
  }
  const db = new DatabaseSync(join(config.dataDir, "hookline.db"));
  try {
    const assignments = names.map((name) => `${name} = ?`).join(", ");
    db.prepare(`UPDATE endpoints SET ${assignments} WHERE id = ?`).run(...Object.values(values), endpointId);
  } finally {
    db.close();
  }
}
