import { existsSync } from "node:fs";
import { join } from "node:path";
import type { SQLOutputValue } from "node:sqlite";
import { HooklineError } from "../../errors.ts";
import { openPostgresTarget, type PostgresTarget, redactUrl } from "./postgres-target.ts";
import { formatCount, type ProgressStream, tableProgress } from "./progress.ts";
import { openSqliteSource, type SqliteSource } from "./sqlite-source.ts";
import { planTables, type TablePlan } from "./table-plan.ts";

export interface MigrateDataOptions {
  /** The embedded store's data directory (absolute). */
  from: string;
  /** The PostgreSQL URL; null when neither --to nor DATABASE_URL gave one. */
  to: string | null;
  schema: string;
  clock?: () => number;
}

export interface MigrateDataIo {
  /** The report (stdout). */
  print(text: string): void;
  /** The progress bars (stderr). */
  progress: ProgressStream;
}

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

export interface MigrateDataResult {
  counts: TableCount[];
  /** Deliveries that were claimed in the source and are due again at once in PostgreSQL. */
  releasedClaims: number;
}

// A batch also stops at a size in characters, so large event bodies never pile up in memory.
const MAX_BATCH_ROWS = 1000;
const MAX_BATCH_CHARS = 16 << 20;

/**
 * Copies an embedded (SQLite) installation into an empty PostgreSQL schema: every
 * table both schemas have, every column both tables have (found by introspection),
 * in one PostgreSQL transaction that commits only when every table's row count
 * matches the source's. Claimed deliveries arrive as due-now pending work and the
 * queue's per-endpoint due times are recomputed, so workers pick everything up.
 */
export async function migrateData(options: MigrateDataOptions, io: MigrateDataIo): Promise<MigrateDataResult> {
  const clock = options.clock ?? Date.now;
  const started = clock();
  const url = checkUrl(options.to);
  checkSchema(options.schema);
  const source = openSqliteSource(options.from);
  let target: PostgresTarget | null = null;
  try {
    target = await openPostgresTarget(url, options.schema);
    const targetTables = await target.begin();
    const filled = await target.nonEmpty(targetTables.map((table) => table.name));
    if (filled.length > 0) throw notEmpty(url, options.schema, filled);
    const plans = planTables(source.tables(), targetTables);
    io.print(
      `Copying the embedded store in ${options.from} to PostgreSQL schema "${options.schema}" at ${redactUrl(url)}`,
    );
    for (const plan of plans) {
      for (const column of plan.sourceOnly) {
        io.print(`  note: ${plan.table}.${column} has no PostgreSQL column; its values are not copied`);
      }
    }
    const totals = new Map(plans.map((plan) => [plan.table, source.count(plan.table)]));
    for (const plan of plans) await copyTable(source, target, plan, totals.get(plan.table) ?? 0, io.progress);
    const releasedClaims = await target.releaseClaims(clock());
    await target.refreshQueue();
    const counts: TableCount[] = [];
    for (const plan of plans) {
      counts.push({ table: plan.table, source: totals.get(plan.table) ?? 0, target: await target.count(plan.table) });
    }
    io.print(countTable(counts));
    if (counts.some((count) => count.source !== count.target)) {
      throw new HooklineError(
        "verification_failed",
        `row counts differ (see the table above): nothing was committed, PostgreSQL schema "${options.schema}" is as empty as before`,
      );
    }
    await target.commit();
    const rows = counts.reduce((sum, count) => sum + count.target, 0);
    const seconds = ((clock() - started) / 1000).toFixed(1);
    io.print(`Copied ${formatCount(rows)} rows in ${seconds} s; every table's count matches.`);
    if (releasedClaims > 0) {
      const what = releasedClaims === 1 ? "delivery was" : "deliveries were";
      io.print(`${formatCount(releasedClaims)} ${what} claimed by a process that no longer runs: due again now.`);
    }
    io.print(
      `Next: start Hookline with DATABASE_URL=${redactUrl(url)} HOOKLINE_DATABASE_SCHEMA=${options.schema} ${masterKeyHint(options.from)}; keep ${options.from} until you are satisfied.`,
    );
    return { counts, releasedClaims };
  } finally {
    await target?.close();
    source.close();
  }
}

async function copyTable(
  source: SqliteSource,
  target: PostgresTarget,
  plan: TablePlan,
  total: number,
  out: ProgressStream,
): Promise<void> {
  const progress = tableProgress(out, plan.table, total);
  let batch: SQLOutputValue[][] = [];
  let chars = 0;
  let inFlight: Promise<void> | null = null;
  // One batch in flight: SQLite reads the next one while PostgreSQL writes this one.
  const flush = async () => {
    const rows = batch;
    batch = [];
    chars = 0;
    if (inFlight) await inFlight;
    inFlight = target.insert(plan.table, plan.columns, rows).then(() => progress.advance(rows.length));
    // Awaited at the next flush; until then a failure must not count as unhandled.
    inFlight.catch(() => {});
  };
  try {
    for (const row of source.rows(plan.table, plan.columns)) {
      batch.push(row);
      for (const value of row)
        chars += typeof value === "string" ? value.length : value instanceof Uint8Array ? value.byteLength : 8;
      if (batch.length >= MAX_BATCH_ROWS || chars >= MAX_BATCH_CHARS) await flush();
    }
    if (batch.length > 0) await flush();
    if (inFlight) await inFlight;
  } catch (error) {
    progress.finish(false);
    if (error instanceof HooklineError) throw error;
    throw new HooklineError(
      "copy_failed",
      `copying ${plan.table} failed, nothing was committed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  progress.finish();
}

function checkUrl(url: string | null): string {
  if (!url) {
    throw new HooklineError(
      "invalid_argument",
      "give the PostgreSQL database with --to postgres://user:password@host:5432/db (or set DATABASE_URL)",
    );
  }
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {}
  if (!parsed || (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")) {
    throw new HooklineError(
      "invalid_argument",
      `--to must be a PostgreSQL URL like postgres://user:password@host:5432/db, got ${JSON.stringify(redactUrl(url))}`,
    );
  }
  return url;
}

function checkSchema(schema: string): void {
  // The store's own rule (store/postgres/database.ts), checked before anything is opened.
  if (!/^[a-z_][a-z0-9_]{0,48}$/.test(schema)) {
    throw new HooklineError(
      "invalid_argument",
      `--schema must be a lowercase SQL name (letters, digits, _), got ${JSON.stringify(schema)}`,
    );
  }
}

function notEmpty(url: string, schema: string, tables: string[]): HooklineError {
  return new HooklineError(
    "target_not_empty",
    `PostgreSQL schema "${schema}" is not empty (rows in ${tables.join(", ")}): migrate-data only fills a new, empty schema and never merges into one in use. Nothing was changed.\n` +
      `To start over, drop the schema (everything in it is lost) and run migrate-data again:\n` +
      `  psql '${redactUrl(url)}' -c 'DROP SCHEMA ${schema} CASCADE'\n` +
      "or copy into another schema with --schema.",
  );
}

function countTable(counts: TableCount[]): string {
  const width = Math.max(...counts.map((count) => formatCount(Math.max(count.source, count.target)).length), 10);
  const lines = [
    "Verification, rows per table:",
    `  ${"table".padEnd(16)} ${"SQLite".padStart(width)} ${"PostgreSQL".padStart(width)}`,
  ];
  for (const { table, source, target } of counts) {
    const verdict = source === target ? "ok" : "DIFFERS";
    lines.push(
      `  ${table.padEnd(16)} ${formatCount(source).padStart(width)} ${formatCount(target).padStart(width)}  ${verdict}`,
    );
  }
  return lines.join("\n");
}

/** The signing secrets were copied encrypted: the nodes need the key the embedded store used. */
function masterKeyHint(from: string): string {
  const file = join(from, "master.key");
  return existsSync(file)
    ? `HOOKLINE_MASTER_KEY_FILE=${file} (the signing secrets are encrypted with that key; copy it to every node)`
    : "and the HOOKLINE_MASTER_KEY the embedded store ran with (the signing secrets are encrypted with it)";
}
