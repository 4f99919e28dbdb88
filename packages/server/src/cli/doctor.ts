import { accessSync, constants, existsSync, statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { type Config, type ConfigSources, loadConfig } from "../config.ts";
import { dataDirHolder } from "../data-dir-lock.ts";
import { classifyAddress } from "../delivery/egress-guard.ts";
import { formatDuration } from "../durations.ts";
import { type MasterKeys, readMasterKeys } from "../master-key.ts";
import type { StoreInspection } from "../store/inspection.ts";
import { redactUrl } from "../store/migrate-data/postgres-target.ts";
import { inspectStore as inspectPostgres } from "../store/postgres/inspection.ts";
import { masterKeyId } from "../store/secret-box.ts";
import { inspectStore as inspectSqlite } from "../store/sqlite/inspection.ts";

/** One finding of `hookline doctor`. */
export interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  /** What was found, in plain words. */
  message: string;
  /** What to do about it (warn and fail). */
  fix?: string;
}

export interface DoctorDeps {
  /** Resolves a host name to all its addresses (dns.promises.lookup with `all`). */
  lookup(hostname: string): Promise<{ address: string; family: number }[]>;
  /** This machine's clock (ms). */
  now(): number;
  /** The public name the egress check resolves. */
  egressName: string;
  /** How long a lookup or a database connection may take; default 5 s. */
  timeoutMs?: number;
}

const MiB = 1024 * 1024;
/** Below this the embedded store's next write may fail. */
const FAIL_FREE_BYTES = 100 * MiB;
const WARN_FREE_BYTES = 1024 * MiB;
const MAX_CLOCK_SKEW_MS = 1000;

/**
 * `hookline doctor`: checks the configuration, data directory, store, master key, clock and
 * egress, and reports each as ok, warn or fail. Reads only: it makes no file, no schema, no key.
 */
export async function runDoctor(sources: ConfigSources, deps: DoctorDeps): Promise<Check[]> {
  let config: Config;
  try {
    config = loadConfig(sources);
  } catch (error) {
    return [
      {
        name: "config",
        status: "fail",
        message: (error as Error).message,
        fix: "correct that setting; `hookline config print` shows where each value comes from",
      },
    ];
  }
  const checks: Check[] = [configCheck(config, sources)];
  const timeoutMs = deps.timeoutMs ?? 5000;
  let store: StoreInspection | null = null;
  let storeRead = false;
  let clockSkewMs: number | null = null;
  let keyCheckable = true;
  if (config.databaseUrl === null) {
    const dataDir = dataDirCheck(config.dataDir);
    checks.push(dataDir);
    // A generated key lives in the data directory: without one, there is nothing to read.
    keyCheckable = dataDir.status !== "fail" || config.masterKey !== null || config.masterKeyFile !== null;
    if (dataDir.status !== "fail") {
      checks.push(holderCheck(config.dataDir));
      try {
        store = inspectSqlite(config.dataDir);
        storeRead = true;
        checks.push(versionCheck(store, `the embedded store in ${config.dataDir}`));
      } catch (error) {
        checks.push({
          name: "store",
          status: "fail",
          message: `cannot read ${config.dataDir}/hookline.db: ${(error as Error).message}`,
          fix: "check the file's permissions; if it is damaged, restore it from a backup",
        });
      }
    }
  } else {
    const where = `PostgreSQL schema "${config.databaseSchema}" at ${redactUrl(config.databaseUrl)}`;
    try {
      const inspection = await inspectPostgres(
        { url: config.databaseUrl, schema: config.databaseSchema, timeoutMs },
        deps.now,
      );
      store = inspection;
      storeRead = true;
      clockSkewMs = inspection.clockSkewMs;
      checks.push(versionCheck(store, where));
    } catch (error) {
      checks.push({
        name: "store",
        status: "fail",
        message: `cannot reach ${where}: ${describeError(error)}`,
        fix: "check that PostgreSQL runs, that database_url (DATABASE_URL) is right, and that this machine may connect",
      });
    }
  }
  if (keyCheckable) checks.push(masterKeyCheck(config, store, storeRead));
  if (storeRead) checks.push(clockCheck(deps.now(), clockSkewMs, store?.newestEventAt ?? null));
  checks.push(await egressCheck(deps, timeoutMs));
  return checks;
}

/** The report as lines: one per check, a fix under each problem, then a summary. */
export function formatChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  const lines: string[] = [];
  for (const check of checks) {
    lines.push(`${check.status.padEnd(4)}  ${check.name.padEnd(width)}  ${check.message}`);
    if (check.fix && check.status !== "ok") lines.push(`${" ".repeat(width + 8)}fix: ${check.fix}`);
  }
  const failed = checks.filter((check) => check.status === "fail").length;
  const warned = checks.filter((check) => check.status === "warn").length;
  if (failed === 0 && warned === 0) lines.push("Everything looks right.");
  else lines.push(`${plural(failed, "problem")}, ${plural(warned, "warning")}.`);
  return lines.join("\n");
}

function configCheck(config: Config, sources: ConfigSources): Check {
  const file = sources.file && existsSync(sources.file) ? `${sources.file}, ` : "";
  const store = config.databaseUrl
    ? `PostgreSQL schema "${config.databaseSchema}"`
    : `the embedded store in ${config.dataDir}`;
  return { name: "config", status: "ok", message: `valid (${file}environment, defaults); ${store}` };
}

function dataDirCheck(dir: string): Check {
  const name = "data directory";
  let existing = dir;
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) {
      return {
        name,
        status: "fail",
        message: `${dir} is not a directory`,
        fix: "move that file away, or set data_dir (HOOKLINE_DATA_DIR, --data-dir) to a directory",
      };
    }
  } else {
    while (!existsSync(existing)) existing = dirname(existing);
    if (!statSync(existing).isDirectory()) {
      return {
        name,
        status: "fail",
        message: `${dir} cannot be made: ${existing} is not a directory`,
        fix: "set data_dir (HOOKLINE_DATA_DIR, --data-dir) to a path under a directory",
      };
    }
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (error) {
    return {
      name,
      status: "fail",
      message: `${existing} is not writable by this user: ${(error as NodeJS.ErrnoException).code}`,
      fix: "run Hookline as the directory's owner, or give this user write access to it",
    };
  }
  const stats = statfsSync(existing);
  const free = stats.bavail * stats.bsize;
  const where = existing === dir ? `${dir}: writable` : `${dir} does not exist yet (the first start makes it)`;
  const message = `${where}, ${formatBytes(free)} free`;
  if (free < FAIL_FREE_BYTES) {
    return { name, status: "fail", message, fix: "free disk space: the store stops accepting events when it is full" };
  }
  if (free < WARN_FREE_BYTES) {
    return { name, status: "warn", message, fix: "free disk space, or lower retention, before the disk fills" };
  }
  return { name, status: "ok", message };
}

function holderCheck(dir: string): Check {
  const holder = dataDirHolder(dir);
  if (holder === null)
    return { name: "server", status: "ok", message: "no Hookline is running on this data directory" };
  if (holder.running) {
    const who = holder.pid === null ? "Hookline" : `Hookline (pid ${holder.pid})`;
    return { name: "server", status: "ok", message: `${who} is running on this data directory` };
  }
  return {
    name: "server",
    status: "warn",
    message: `hookline.pid names pid ${holder.pid}, which does not hold the data directory: the last server did not stop cleanly`,
    fix: "nothing to undo (the next start replaces the file); its logs may say why it stopped",
  };
}

function versionCheck(store: StoreInspection | null, where: string): Check {
  if (store === null || store.version === 0) {
    return { name: "store", status: "ok", message: `${where} is empty: the first start creates its tables` };
  }
  if (store.version > store.expected) {
    return {
      name: "store",
      status: "fail",
      message: `${where} is at schema version ${store.version}, newer than this Hookline knows (${store.expected})`,
      fix: "run the Hookline version that last wrote it, or a newer one",
    };
  }
  if (store.version < store.expected) {
    return {
      name: "store",
      status: "warn",
      message: `${where} is at schema version ${store.version} of ${store.expected}: migrations are pending`,
      fix: "`hookline migrate` applies them (the next start does too)",
    };
  }
  return { name: "store", status: "ok", message: `${where}: schema version ${store.version}, up to date` };
}

function masterKeyCheck(config: Config, store: StoreInspection | null, storeRead: boolean): Check {
  const name = "master key";
  let keys: MasterKeys | null;
  try {
    keys = readMasterKeys(config);
  } catch (error) {
    return {
      name,
      status: "fail",
      message: (error as Error).message,
      fix: "set master_key (HOOKLINE_MASTER_KEY) or master_key_file; see docs/security.md",
    };
  }
  const sealed = store?.sealedKeyIds ?? [];
  if (keys === null) {
    if (sealed.length > 0) {
      return {
        name,
        status: "fail",
        message: `${config.dataDir}/master.key is missing, but the store holds signing secrets sealed with master key ${sealed.join(", ")}`,
        fix: "restore master.key from your backup, or set master_key (HOOKLINE_MASTER_KEY) to that key",
      };
    }
    if (store !== null && store.plainSecrets > 0) return plainSecrets(store.plainSecrets, "a new one");
    return { name, status: "ok", message: `none yet: the first start makes ${config.dataDir}/master.key` };
  }
  const current = masterKeyId(keys.current);
  const known = new Set([current, ...keys.old.map(masterKeyId)]);
  const origin =
    keys.generatedFile ?? (config.masterKey !== null ? "master_key" : `master_key_file ${config.masterKeyFile}`);
  const unknown = sealed.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    return {
      name,
      status: "fail",
      message: `signing secrets in the store are sealed with master key ${unknown.join(", ")}, but this configuration has ${[...known].join(", ")} (${origin}): deliveries to those endpoints cannot be signed`,
      fix: "start with the key they were written with (master_key / HOOKLINE_MASTER_KEY, master_key_file, or old_master_keys during a rotation)",
    };
  }
  if (sealed.some((id) => id !== current)) {
    return {
      name,
      status: "warn",
      message: `some signing secrets are still sealed with an earlier key (${sealed.filter((id) => id !== current).join(", ")})`,
      fix: "finish the rotation: `hookline keys rotate-master`",
    };
  }
  if (store !== null && store.plainSecrets > 0) return plainSecrets(store.plainSecrets, `master key ${current}`);
  const compared = storeRead ? ", which opens every stored signing secret" : " (not compared: the store was not read)";
  return { name, status: "ok", message: `master key ${current} from ${origin}${compared}` };
}

function plainSecrets(endpoints: number, key: string): Check {
  return {
    name: "master key",
    status: "warn",
    message: `the signing secrets of ${plural(endpoints, "endpoint")} are stored unencrypted`,
    fix: `the next start encrypts them under ${key}`,
  };
}

function clockCheck(now: number, skewMs: number | null, newestEventAt: number | null): Check {
  const name = "clock";
  if (skewMs !== null) {
    const way = skewMs > 0 ? "behind" : "ahead of";
    const message = `this machine's clock is ${formatSpan(Math.abs(skewMs))} ${way} the database server's`;
    if (Math.abs(skewMs) > MAX_CLOCK_SKEW_MS) {
      return {
        name,
        status: "warn",
        message,
        fix: "run time synchronisation (chrony, systemd-timesyncd) on every node and the database server: retries and leases go by these clocks",
      };
    }
    return { name, status: "ok", message };
  }
  if (newestEventAt !== null && newestEventAt - now > MAX_CLOCK_SKEW_MS) {
    return {
      name,
      status: "warn",
      message: `the newest event was created ${formatSpan(newestEventAt - now)} in this clock's future: the clock went back`,
      fix: "run time synchronisation (chrony, systemd-timesyncd); retries are scheduled by this clock",
    };
  }
  const compared =
    newestEventAt === null ? "the embedded store has no clock to compare with" : "not behind the newest stored event";
  return { name, status: "ok", message: `${new Date(now).toISOString()}, ${compared}` };
}

async function egressCheck(deps: DoctorDeps, timeoutMs: number): Promise<Check> {
  const name = "egress";
  const host = deps.egressName;
  let addresses: { address: string }[];
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${formatDuration(timeoutMs)}`)), timeoutMs);
    });
    addresses = await Promise.race([deps.lookup(host), timeout]);
  } catch (error) {
    return {
      name,
      status: "fail",
      message: `cannot resolve ${host}: ${describeError(error)}; deliveries to public URLs would fail with "dns"`,
      fix: "give this machine a working DNS resolver (/etc/resolv.conf) and outbound access",
    };
  } finally {
    clearTimeout(timer);
  }
  const list = addresses.map((a) => a.address).join(", ");
  if (addresses.length === 0 || addresses.some((a) => classifyAddress(a.address) !== "public")) {
    return {
      name,
      status: "warn",
      message: `${host} resolves to ${list || "nothing"}, not to public addresses only: LIVE deliveries there are refused`,
      fix: "check the DNS resolver (one that rewrites public names breaks LIVE deliveries); or name a public host with --egress-name",
    };
  }
  return { name, status: "ok", message: `${host} resolves to ${list}` };
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  const { message, code } = error as { message?: string; code?: string };
  return message || code || String(error);
}

function formatSpan(ms: number): string {
  return ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${(bytes / (1024 * MiB)).toFixed(1)} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
