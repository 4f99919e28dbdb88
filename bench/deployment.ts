import { cpus } from "node:os";
import type { CpuUse } from "./cpu.ts";
import type { HooklineServer } from "./hookline-server.ts";
import type { DatabaseActivity } from "./postgres.ts";
import type { Deploy, Deployment } from "./scenario.ts";
import { formatCount, round } from "./stats.ts";

/** The SQLite scenarios' Hookline: one `hookline serve` on a fresh data dir. */
export const sqliteDeployment: Deploy = async (ctx, label, env = {}) => {
  const server = await ctx.startHookline(label, env);
  return {
    api: server,
    deliverers: 1,
    what: "hookline serve (SQLite, synchronous=FULL)",
    cpuSeconds: () => server.cpuSeconds(),
    cpuByPart: server.cpuByThread,
    watchDatabase: () => null,
    async stop() {
      const exit = await server.stop();
      return exit === 0 ? [] : [`the Hookline server exited with ${exit} when stopped`];
    },
  };
};

export interface PostgresShape {
  /** The node that takes the API calls: `api` delivers nothing, `all` delivers too. */
  apiRole: "api" | "all";
  /** `--role worker` processes besides it. */
  workers: number;
}

/** Describes a shape, e.g. "1 × --role api + 2 × --role worker". */
export function shapeText(shape: PostgresShape): string {
  return `1 × --role ${shape.apiRole}${shape.workers ? ` + ${shape.workers} × --role worker` : ""}`;
}

/**
 * Hookline on PostgreSQL, as docs/deploy.md describes it: one API process and
 * `workers` worker processes on one schema of their own (fresh, dropped at stop).
 * The API process starts first: it migrates the schema and makes the Default
 * account (only a first start prints the keys); the workers follow together.
 * Each process names its connections (PGAPPNAME) so the database can be watched per process.
 */
export function postgresDeployment(shape: PostgresShape): Deploy {
  return async (ctx, label, env = {}): Promise<Deployment> => {
    const postgres = await ctx.postgres();
    // The SQLite scenarios commit with synchronous=FULL: figures without fsync would not compare.
    if (postgres.durability.length)
      throw new Error(`PostgreSQL runs with ${postgres.durability.join(", ")}: a 202 would not be durable`);
    const schema = postgres.newSchema(label);
    const pool: Record<string, string> =
      ctx.options.poolSize === null ? {} : { HOOKLINE_DATABASE_POOL_SIZE: String(ctx.options.poolSize) };
    const nodeEnv = (name: string): Record<string, string> => ({
      ...env,
      ...pool,
      DATABASE_URL: postgres.url,
      // Every node must share one (any fixed key will do for a benchmark).
      HOOKLINE_MASTER_KEY: Buffer.alloc(32, 1).toString("base64"),
      HOOKLINE_DATABASE_SCHEMA: schema,
      PGAPPNAME: `${schema}/${name}`,
    });
    const started: { name: string; server: HooklineServer }[] = [];
    const stopAll = async () => {
      const notes: string[] = [];
      await Promise.all(
        started.map(async ({ name, server }) => {
          const exit = await server.stop();
          if (exit !== 0) notes.push(`the Hookline ${name} process exited with ${exit} when stopped`);
        }),
      );
      await postgres.dropSchema(schema).catch((error: unknown) => {
        notes.push(`dropping schema ${schema} failed: ${(error as Error).message}`);
      });
      return notes;
    };
    try {
      const api = await ctx.startHookline(`${label}-${shape.apiRole}`, nodeEnv(shape.apiRole), {
        args: ["--role", shape.apiRole],
      });
      started.push({ name: shape.apiRole, server: api });
      const workers = await Promise.all(
        Array.from({ length: shape.workers }, async (_, i) => {
          const name = `worker ${i + 1}`;
          const server = await ctx.startHookline(`${label}-worker-${i + 1}`, nodeEnv(name), {
            args: ["--role", "worker"],
            testKey: api.testKey,
          });
          started.push({ name, server });
          return server;
        }),
      );
      const processes = [api, ...workers];
      const cpuByPart: Deployment["cpuByPart"] = { [shape.apiRole]: () => api.cpuSeconds() };
      for (const [i, worker] of workers.entries()) cpuByPart[`worker ${i + 1}`] = () => worker.cpuSeconds();
      cpuByPart.postgres = () => postgres.cpuSeconds();
      return {
        api,
        deliverers: (shape.apiRole === "all" ? 1 : 0) + shape.workers,
        what: `hookline serve on PostgreSQL ${postgres.settings.server_version ?? ""}: ${shapeText(shape)}`,
        cpuSeconds() {
          let sum = 0;
          for (const server of processes) {
            const seconds = server.cpuSeconds();
            if (seconds === null) return null;
            sum += seconds;
          }
          return sum;
        },
        cpuByPart,
        watchDatabase: () => postgres.watch(`${schema}/`),
        stop: stopAll,
      };
    } catch (error) {
      await stopAll();
      throw error;
    }
  };
}

/**
 * Where the CPU went (each part measured apart: the server's threads or processes,
 * PostgreSQL and its share of the machine, the load generator and the receiver),
 * with `per`, also in µs per unit of work; and what Hookline's database connections
 * did (PostgreSQL only), as notes.
 */
export function processNotes(
  cpu: CpuUse,
  database: DatabaseActivity | null,
  { who = "", per }: { who?: string; per?: { ratePerS: number | null; unit: string } } = {},
): string[] {
  const notes: string[] = [];
  const others = cpu.others;
  if (others && Object.keys(others).length) {
    const parts = Object.entries(others).map(([name, value]) => `${name} ${value ?? "–"}%`);
    const postgres = others.postgres;
    const busyCores = cpu.machinePercent === null ? null : (cpu.machinePercent / 100) * cpus().length;
    const share =
      postgres !== null && postgres !== undefined && busyCores
        ? `; PostgreSQL used ${round(postgres / 100, 2)} of the ${round(busyCores, 2)} cores busy on the machine (${Math.round(postgres / busyCores)}%)`
        : "";
    notes.push(`${who ? `${who}: ` : ""}CPU over the measured window, % of one core: ${parts.join(", ")}${share}`);
    const rate = per?.ratePerS;
    if (per && rate) {
      // % of a core at `rate` units a second: µs of CPU per unit.
      const micros = Object.entries(others).map(
        ([name, value]) => `${name} ${value === null ? "–" : formatCount((value * 10_000) / rate)}`,
      );
      notes.push(`${who ? `${who}: ` : ""}CPU µs per ${per.unit}: ${micros.join(", ")}`);
    }
  }
  if (database) {
    const rate = (value: number | null, unit: string) =>
      value === null ? `– ${unit}` : `${formatCount(value)} ${unit}`;
    const connections = Object.entries(database.peakConnections)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([app, peak]) => {
        const states = database.meanByState[app] ?? {};
        const name = app.slice(app.indexOf("/") + 1);
        return `${name} ${peak} / ${states.active ?? 0} / ${states["idle in transaction"] ?? 0}`;
      });
    const waits = Object.entries(database.activeWaits)
      .slice(0, 4)
      .map(([what, share]) => `${what} ${Math.round(share * 100)}%`);
    notes.push(
      `PostgreSQL: ${rate(database.commitsPerS, "commits/s")}, WAL ${database.walMBPerS ?? "–"} MB/s, ${rate(database.walSyncsPerS, "WAL fsyncs/s")}, ${database.deadlocks ?? "–"} deadlocks; connections (most held / mean active / mean idle in transaction): ${connections.join(", ") || "–"}; active connections were in: ${waits.join(", ") || "–"}`,
    );
  }
  return notes;
}
