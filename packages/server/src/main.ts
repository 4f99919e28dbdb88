import { lookup } from "node:dns/promises";
import { pino } from "pino";
import { backupStore, restoreStore } from "./backup-restore.ts";
import { printConfig } from "./cli/config-print.ts";
import { formatChecks, runDoctor } from "./cli/doctor.ts";
import { buildProgram, type ServeOptions } from "./cli/program.ts";
import { type Config, type ConfigSources, loadConfig } from "./config.ts";
import { HooklineError } from "./errors.ts";
import { startHookline } from "./hookline.ts";
import { prettyDestination } from "./log-format.ts";
import { rotateMasterKey } from "./rotate-master-key.ts";
import { migrateData } from "./store/migrate-data/migrate-data.ts";
import { createPostgresStore } from "./store/postgres/postgres-store.ts";
import { createSqliteStore } from "./store/sqlite/sqlite-store.ts";

// The only module that touches `process`: arguments, environment, signals, exit codes.

/** Logs go to stderr: JSON lines, or readable lines in a terminal (`log_format`). */
function makeLogger(level: string, format: Config["logFormat"]) {
  const pretty = format === "pretty" || (format === "auto" && process.stderr.isTTY === true);
  const destination = pretty ? prettyDestination(process.stderr) : pino.destination({ dest: 2, sync: true });
  return pino({ level, base: { pid: process.pid } }, destination);
}

let logger = makeLogger(process.env.HOOKLINE_LOG_LEVEL ?? "info", "auto");

function configOf(options: ServeOptions) {
  const config = loadConfig(sourcesOf(options));
  logger = makeLogger(config.logLevel, config.logFormat);
  return config;
}

function sourcesOf(options: ServeOptions): ConfigSources {
  return {
    flags: {
      host: options.host,
      port: options.port,
      dataDir: options.dataDir,
      databaseUrl: options.databaseUrl,
      role: options.role,
    },
    env: process.env,
    file: options.config ?? "hookline.config.json",
    fileRequired: options.config !== undefined,
  };
}

async function migrate(options: ServeOptions) {
  const config = configOf(options);
  if (config.databaseUrl) {
    const store = await createPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: 1 });
    await store.close();
    process.stdout.write(`Migrations applied: PostgreSQL schema "${config.databaseSchema}" is up to date.\n`);
  } else {
    await createSqliteStore(config.dataDir).close();
    process.stdout.write(`Migrations applied: the embedded store in ${config.dataDir} is up to date.\n`);
  }
}

async function serve(options: ServeOptions) {
  const config = configOf(options);
  const hookline = await startHookline(config, logger, {}, (keys) => {
    const lines = ["First start: a Default account is ready."];
    if (keys.adminKey) lines.push(`  admin key (shown once, keep it safe): ${keys.adminKey}`);
    lines.push(`  TEST key: ${keys.testKey}`, `  LIVE key: ${keys.liveKey}`);
    process.stdout.write(`${lines.join("\n")}\n`);
  });
  // Before the listening line: whoever waits for that line may signal at once.
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    logger.info({ signal }, "stopping: finishing in-flight deliveries");
    hookline.stop().then(
      () => process.exit(0),
      (error) => {
        logger.error({ err: error }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const keys = hookline.firstStart;
  if (keys) {
    process.stdout.write(
      `Send a test event:\n  curl -X POST ${hookline.url}/v1/events -H 'authorization: Bearer ${keys.testKey}' -H 'content-type: application/json' -d '{"type":"transfer.completed","data":{"amount":100}}'\n`,
    );
  }
  process.stdout.write(`Dashboard: ${hookline.url}/ (operators log in with the admin key)\n`);
  process.stdout.write(`Hookline listening on ${hookline.url}\n`);
}

const program = buildProgram({
  env: process.env,
  print: (text) => process.stdout.write(`${text}\n`),
  serve,
  migrate,
  onInterrupt(stop) {
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  },
});

program
  .command("migrate-data")
  .description(
    "copy the embedded store (SQLite) into a new, empty PostgreSQL schema and verify every table's row count",
  )
  .option("--from <dir>", "the embedded store's data directory (env HOOKLINE_DATA_DIR, default ./.hookline)")
  .option("--to <url>", "the PostgreSQL database, postgres://user:password@host:5432/db (env DATABASE_URL)")
  .option(
    "--schema <name>",
    "the schema to fill; must be new or empty (env HOOKLINE_DATABASE_SCHEMA, default hookline)",
  )
  .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
  .action(async (options: { from?: string; to?: string; schema?: string; config?: string }) => {
    // The flags are checked by migrateData, with their own names in its messages.
    const config = loadConfig({
      flags: { dataDir: options.from },
      env: process.env,
      file: options.config ?? "hookline.config.json",
      fileRequired: options.config !== undefined,
    });
    await migrateData(
      { from: config.dataDir, to: options.to ?? config.databaseUrl, schema: options.schema ?? config.databaseSchema },
      {
        print: (text) => process.stdout.write(`${text}\n`),
        progress: { write: (text) => process.stderr.write(text), isTTY: process.stderr.isTTY === true },
      },
    );
  });

/** The settings backup and restore read: where the store and its master key are. */
function storeConfigOf(options: { dataDir?: string; databaseUrl?: string; config?: string }) {
  return loadConfig({
    flags: { dataDir: options.dataDir, databaseUrl: options.databaseUrl },
    env: process.env,
    file: options.config ?? "hookline.config.json",
    fileRequired: options.config !== undefined,
  });
}

program
  .command("backup")
  .description("copy the embedded store to <file> while Hookline runs (the master key stays out: see --with-key)")
  .argument("<file>", "the backup to write; must not exist")
  .option("--with-key", "also write the master key to <file>.master.key (owner-only); store it apart from the backup")
  .option("--data-dir <dir>", "the embedded store's data directory (env HOOKLINE_DATA_DIR, default ./.hookline)")
  .option("--database-url <url>", "PostgreSQL: refused, use pg_dump (env DATABASE_URL)")
  .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
  .action((file: string, options: { withKey?: boolean; dataDir?: string; databaseUrl?: string; config?: string }) => {
    backupStore(storeConfigOf(options), file, { withKey: options.withKey === true }, (text) =>
      process.stdout.write(`${text}\n`),
    );
  });

program
  .command("restore")
  .description("check a backup and make it the embedded store of the data directory (Hookline must be stopped)")
  .argument("<file>", "a file written by `hookline backup`")
  .option("--with-key", "install <file>.master.key as the data directory's master.key")
  .option("--replace", "replace the store the data directory already has (what it holds now is lost)")
  .option("--data-dir <dir>", "the embedded store's data directory (env HOOKLINE_DATA_DIR, default ./.hookline)")
  .option("--database-url <url>", "PostgreSQL: refused, use pg_restore (env DATABASE_URL)")
  .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
  .action(
    (
      file: string,
      options: { withKey?: boolean; replace?: boolean; dataDir?: string; databaseUrl?: string; config?: string },
    ) => {
      restoreStore(
        storeConfigOf(options),
        file,
        { withKey: options.withKey === true, replace: options.replace === true },
        (text) => process.stdout.write(`${text}\n`),
      );
    },
  );

program
  .command("keys")
  .description("manage the master key that encrypts signing secrets at rest")
  .command("rotate-master")
  .description(
    "re-encrypt every signing secret under a new master key (embedded store: stop Hookline first; see docs/security.md)",
  )
  .option("--data-dir <dir>", "the embedded store's data directory (env HOOKLINE_DATA_DIR, default ./.hookline)")
  .option("--database-url <url>", "PostgreSQL instead of the embedded store (env DATABASE_URL)")
  .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
  .action(async (options: { dataDir?: string; databaseUrl?: string; config?: string }) => {
    const config = loadConfig({
      flags: { dataDir: options.dataDir, databaseUrl: options.databaseUrl },
      env: process.env,
      file: options.config ?? "hookline.config.json",
      fileRequired: options.config !== undefined,
    });
    await rotateMasterKey(config, (text) => process.stdout.write(`${text}\n`));
  });

program
  .command("config")
  .description("inspect the configuration")
  .command("print")
  .description(
    "print every setting's effective value and where it comes from (flag, env, file, default); secrets masked",
  )
  .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
  .option("--host <host>", "as for serve")
  .option("--port <port>", "as for serve")
  .option("--data-dir <dir>", "as for serve")
  .option("--database-url <url>", "as for serve")
  .option("--role <role>", "as for serve")
  .option("--json", "print JSON: {setting: {value, source, from}}")
  .action((options: ServeOptions & { json?: boolean }) => {
    process.stdout.write(`${printConfig(sourcesOf(options), options.json === true)}\n`);
  });

program
  .command("doctor")
  .description(
    "check the configuration, data directory, store, master key, clock and egress; changes nothing; exits 1 on a problem",
  )
  .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
  .option("--data-dir <dir>", "the embedded store's data directory (env HOOKLINE_DATA_DIR, default ./.hookline)")
  .option("--database-url <url>", "PostgreSQL instead of the embedded store (env DATABASE_URL)")
  .option("--egress-name <host>", "a public host name to resolve", "example.com")
  .action(async (options: ServeOptions & { egressName: string }) => {
    const checks = await runDoctor(sourcesOf(options), {
      lookup: (name) => lookup(name, { all: true }),
      now: Date.now,
      egressName: options.egressName,
    });
    process.stdout.write(`${formatChecks(checks)}\n`);
    if (checks.some((check) => check.status === "fail")) process.exitCode = 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (
    (error instanceof HooklineError && error.status < 500) ||
    (error instanceof HooklineError && error.code !== "internal_error")
  ) {
    process.stderr.write(`hookline: ${error.message}\n`);
  } else {
    process.stderr.write(`hookline: ${(error as Error).stack ?? String(error)}\n`);
  }
  process.exitCode = 1;
}
