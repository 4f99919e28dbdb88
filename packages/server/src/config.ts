import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_RETRY_SCHEDULE, parseRetrySchedule } from "./delivery/retry-schedule.ts";
import { formatDuration, parseDuration } from "./durations.ts";
import { HooklineError } from "./errors.ts";

/** The validated, frozen settings of one Hookline process. */
export interface Config {
  readonly host: string;
  readonly port: number;
  /** Where users reach this server (e.g. https://hooks.example.com), for links it makes; null: the request's own origin. */
  readonly publicUrl: string | null;
  readonly dataDir: string;
  /** PostgreSQL instead of the embedded store (many nodes on one database); null: SQLite in dataDir. */
  readonly databaseUrl: string | null;
  /** The PostgreSQL schema Hookline's tables live in. */
  readonly databaseSchema: string;
  /** Connections each process keeps to PostgreSQL. */
  readonly databasePoolSize: number;
  /** What this process runs: the API, the delivery workers, or both. */
  readonly role: "all" | "api" | "worker";
  /** The least severe log level written (pino's levels; `silent` writes none). */
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** JSON lines, readable lines, or readable in a terminal and JSON otherwise. */
  readonly logFormat: "auto" | "json" | "pretty";
  /** When set, this admin key is accepted instead of the generated one. */
  readonly adminKey: string | null;
  readonly maxBodyBytes: number;
  readonly maxBatchBodyBytes: number;
  readonly retrySchedule: readonly number[];
  readonly attemptTimeoutMs: number;
  readonly leaseMs: number;
  readonly maxResponseBytes: number;
  readonly concurrency: number;
  readonly maxInFlightPerEndpoint: number;
  readonly shutdownTimeoutMs: number;
  readonly allowPrivateInTest: boolean;
  readonly egressAllowCidrs: readonly string[];
  /** The key that encrypts signing secrets at rest (base64 of 32 bytes); null: `masterKeyFile`. */
  readonly masterKey: string | null;
  /** A file holding the master key; null: `<dataDir>/master.key`, made on first start (embedded store only). */
  readonly masterKeyFile: string | null;
  /** Earlier master keys, only to read secrets not yet re-encrypted (see `hookline keys rotate-master`). */
  readonly oldMasterKeys: readonly string[];
  /** Events per second each account may send (token bucket, per process); 0: no limit. */
  readonly ingestRatePerAccount: number;
  /** The most endpoints an account may have in each environment (its listen endpoint aside). */
  readonly maxEndpointsPerAccount: number;
  /** How many events an account may send at once above its rate; null: one second's worth, at least 1,000. */
  readonly ingestBurstPerAccount: number | null;
  /** Who may frame the portal pages (CSP frame-ancestors sources); the operator's pages are never framed. */
  readonly portalFrameAncestors: readonly string[];
  /** An endpoint whose attempts have all failed for this long is disabled. */
  readonly disableEndpointAfterMs: number;
  /** Where the operator receives system events (`endpoint.disabled`); null: not sent. */
  readonly systemEventsUrl: string | null;
  /** Events older than this are purged with their deliveries and attempts, once none is pending. */
  readonly retentionMs: number;
  /** How many of a delivery's latest attempts keep their response snippet in the log. */
  readonly keepResponseSnippets: number;
}

type Parser = (raw: unknown, name: string) => unknown;

/** How a setting is described: its config-file key, environment variable, parser and default. */
export interface ConfigOption {
  readonly file: string;
  readonly env: string;
  readonly parse: Parser;
  readonly fallback: unknown;
  /** Never shown as it is (`hookline config print` masks it). */
  readonly secret?: true;
}

/** One row per setting: its config-file key, environment variable and parser. */
export const OPTIONS: Readonly<Record<keyof Config, ConfigOption>> = {
  host: { file: "host", env: "HOOKLINE_HOST", parse: text, fallback: "127.0.0.1" },
  port: { file: "port", env: "HOOKLINE_PORT", parse: integer(0, 65535), fallback: 8080 },
  publicUrl: { file: "public_url", env: "HOOKLINE_PUBLIC_URL", parse: origin, fallback: null },
  dataDir: { file: "data_dir", env: "HOOKLINE_DATA_DIR", parse: text, fallback: "./.hookline" },
  databaseUrl: { file: "database_url", env: "DATABASE_URL", parse: postgresUrl, fallback: null, secret: true },
  databaseSchema: { file: "database_schema", env: "HOOKLINE_DATABASE_SCHEMA", parse: identifier, fallback: "hookline" },
  databasePoolSize: {
    file: "database_pool_size",
    env: "HOOKLINE_DATABASE_POOL_SIZE",
    parse: integer(1, 1000),
    fallback: 10,
  },
  role: { file: "role", env: "HOOKLINE_ROLE", parse: oneOf(["all", "api", "worker"]), fallback: "all" },
  logLevel: {
    file: "log_level",
    env: "HOOKLINE_LOG_LEVEL",
    parse: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    fallback: "info",
  },
  logFormat: {
    file: "log_format",
    env: "HOOKLINE_LOG_FORMAT",
    parse: oneOf(["auto", "json", "pretty"]),
    fallback: "auto",
  },
  adminKey: { file: "admin_key", env: "HOOKLINE_ADMIN_KEY", parse: text, fallback: null, secret: true },
  maxBodyBytes: {
    file: "max_body_bytes",
    env: "HOOKLINE_MAX_BODY_BYTES",
    parse: integer(1024, 64 << 20),
    fallback: 256 * 1024,
  },
  maxBatchBodyBytes: {
    file: "max_batch_body_bytes",
    env: "HOOKLINE_MAX_BATCH_BODY_BYTES",
    parse: integer(1024, 1 << 30),
    fallback: 16 << 20,
  },
  retrySchedule: {
    file: "retry_schedule",
    env: "HOOKLINE_RETRY_SCHEDULE",
    parse: schedule,
    fallback: DEFAULT_RETRY_SCHEDULE,
  },
  attemptTimeoutMs: { file: "attempt_timeout", env: "HOOKLINE_ATTEMPT_TIMEOUT", parse: duration, fallback: 15_000 },
  leaseMs: { file: "lease", env: "HOOKLINE_LEASE", parse: duration, fallback: 60_000 },
  maxResponseBytes: {
    file: "max_response_bytes",
    env: "HOOKLINE_MAX_RESPONSE_BYTES",
    parse: integer(0, 16 << 20),
    fallback: 64 * 1024,
  },
  concurrency: { file: "concurrency", env: "HOOKLINE_CONCURRENCY", parse: integer(1, 100_000), fallback: 512 },
  maxInFlightPerEndpoint: {
    file: "max_in_flight_per_endpoint",
    env: "HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT",
    parse: integer(1, 10_000),
    fallback: 20,
  },
  shutdownTimeoutMs: { file: "shutdown_timeout", env: "HOOKLINE_SHUTDOWN_TIMEOUT", parse: duration, fallback: 20_000 },
  allowPrivateInTest: {
    file: "allow_private_in_test",
    env: "HOOKLINE_ALLOW_PRIVATE_IN_TEST",
    parse: boolean,
    fallback: true,
  },
  egressAllowCidrs: { file: "egress_allow_cidrs", env: "HOOKLINE_EGRESS_ALLOW_CIDRS", parse: list, fallback: [] },
  masterKey: { file: "master_key", env: "HOOKLINE_MASTER_KEY", parse: masterKey, fallback: null, secret: true },
  masterKeyFile: { file: "master_key_file", env: "HOOKLINE_MASTER_KEY_FILE", parse: text, fallback: null },
  oldMasterKeys: {
    file: "old_master_keys",
    env: "HOOKLINE_OLD_MASTER_KEYS",
    parse: (raw, name) => list(raw, name).map((key) => masterKey(key, name)),
    fallback: [],
    secret: true,
  },
  ingestRatePerAccount: {
    file: "ingest_rate_per_account",
    env: "HOOKLINE_INGEST_RATE_PER_ACCOUNT",
    parse: integer(0, 10_000_000),
    fallback: 0,
  },
  maxEndpointsPerAccount: {
    file: "max_endpoints_per_account",
    env: "HOOKLINE_MAX_ENDPOINTS_PER_ACCOUNT",
    parse: integer(1, 1_000_000),
    fallback: 10_000,
  },
  ingestBurstPerAccount: {
    file: "ingest_burst_per_account",
    env: "HOOKLINE_INGEST_BURST_PER_ACCOUNT",
    parse: integer(1, 100_000_000),
    fallback: null,
  },
  portalFrameAncestors: {
    file: "portal_frame_ancestors",
    env: "HOOKLINE_PORTAL_FRAME_ANCESTORS",
    parse: frameSources,
    fallback: ["*"],
  },
  disableEndpointAfterMs: {
    file: "disable_endpoint_after",
    env: "HOOKLINE_DISABLE_ENDPOINT_AFTER",
    parse: duration,
    fallback: 5 * 86_400_000,
  },
  systemEventsUrl: {
    file: "system_events_url",
    env: "HOOKLINE_SYSTEM_EVENTS_URL",
    parse: httpUrl,
    fallback: null,
    // A receiver's URL may carry a token or a password.
    secret: true,
  },
  retentionMs: { file: "retention", env: "HOOKLINE_RETENTION", parse: duration, fallback: 30 * 86_400_000 },
  keepResponseSnippets: {
    file: "keep_response_snippets",
    env: "HOOKLINE_KEEP_RESPONSE_SNIPPETS",
    parse: integer(1, 1000),
    fallback: 10,
  },
};

export interface ConfigSources {
  /** Values from command-line flags, keyed like Config; undefined means not given. */
  flags?: Partial<Record<keyof Config, unknown>>;
  env?: Record<string, string | undefined>;
  /** Path of a JSON config file; when it is the default and missing, it is skipped. */
  file?: string;
  fileRequired?: boolean;
}

/** Builds the config: flags over environment over config file over defaults. */
export function loadConfig(sources: ConfigSources = {}): Config {
  return explainConfig(sources).config;
}

/** Where a setting's effective value came from. */
export interface SettingOrigin {
  readonly key: keyof Config;
  readonly option: ConfigOption;
  readonly source: "flag" | "env" | "file" | "default";
  /** The flag, environment variable or file that gave it; null for the default. */
  readonly from: string | null;
  /** The value as a config file would write it (durations like "15s"), unmasked. */
  readonly value: unknown;
}

/** Like loadConfig (the same checks), and also says where each setting came from. */
export function explainConfig(sources: ConfigSources = {}): { config: Config; settings: readonly SettingOrigin[] } {
  const fileValues = readConfigFile(sources.file, sources.fileRequired ?? false);
  const known = new Set(Object.values(OPTIONS).map((o) => o.file));
  for (const key of Object.keys(fileValues)) {
    if (!known.has(key)) throw configError(`unknown setting "${key}" in ${sources.file}`);
  }
  const config: Record<string, unknown> = {};
  const origins: Omit<SettingOrigin, "value">[] = [];
  for (const [key, option] of Object.entries(OPTIONS) as [keyof Config, ConfigOption][]) {
    const flag = sources.flags?.[key];
    const env = sources.env?.[option.env];
    const fromFile = fileValues[option.file];
    const flagName = `--${option.file.replaceAll("_", "-")}`;
    let origin: Pick<SettingOrigin, "source" | "from">;
    if (flag !== undefined) {
      config[key] = option.parse(flag, flagName);
      origin = { source: "flag", from: flagName };
    } else if (env !== undefined && env !== "") {
      config[key] = option.parse(env, option.env);
      origin = { source: "env", from: option.env };
    } else if (fromFile !== undefined) {
      config[key] = option.parse(fromFile, option.file);
      origin = { source: "file", from: sources.file ?? null };
    } else {
      config[key] = option.fallback;
      origin = { source: "default", from: null };
    }
    origins.push({ key, option, ...origin });
  }
  const result = config as unknown as Config;
  if (result.role !== "all" && result.databaseUrl === null) {
    throw configError(
      `role ${result.role} needs PostgreSQL (database_url / DATABASE_URL): the embedded store is one process, role all`,
    );
  }
  if (result.leaseMs <= result.attemptTimeoutMs) {
    throw configError(
      `lease (${result.leaseMs} ms) must be longer than attempt_timeout (${result.attemptTimeoutMs} ms)`,
    );
  }
  const frozen = Object.freeze({ ...result, dataDir: resolve(result.dataDir) });
  const settings = origins.map((origin) => ({ ...origin, value: fileForm(origin.option, frozen[origin.key]) }));
  return { config: frozen, settings };
}

/** A parsed value as a config file writes it: durations as "15s", a schedule as ["1h*72"]. */
function fileForm(option: ConfigOption, value: unknown): unknown {
  if (option.parse === duration) return formatDuration(value as number);
  if (option.parse !== schedule) return value;
  const runs: string[] = [];
  const delays = value as readonly number[];
  for (let i = 0; i < delays.length; ) {
    let n = 1;
    while (delays[i + n] === delays[i]) n++;
    const text = formatDuration(delays[i] as number);
    runs.push(n === 1 ? text : `${text}*${n}`);
    i += n;
  }
  return runs;
}

function readConfigFile(path: string | undefined, required: boolean): Record<string, unknown> {
  if (!path) return {};
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw configError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(source);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw configError(`config file ${path} is not valid: ${(error as Error).message}`);
  }
}

function configError(message: string) {
  return new HooklineError("invalid_config", message);
}

function text(raw: unknown, name: string): string {
  if (typeof raw !== "string" || raw === "") throw configError(`${name} must be a non-empty string`);
  return raw;
}

function origin(raw: unknown, name: string): string {
  const value = text(raw, name);
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {}
  const bare = url && (url.protocol === "http:" || url.protocol === "https:") && `${url.origin}/` === url.href;
  if (!url || !bare) {
    throw configError(
      `${name} must be an origin like https://hooks.example.com (no path), got ${JSON.stringify(value)}`,
    );
  }
  return url.origin;
}

function httpUrl(raw: unknown, name: string): string {
  const value = text(raw, name);
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {}
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw configError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return url.href;
}

/** A master key: base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`). */
function masterKey(raw: unknown, name: string): string {
  const value = text(raw, name).trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(value) || Buffer.from(value, "base64").length !== 32) {
    throw configError(`${name} must be base64 of 32 bytes (make one with: openssl rand -base64 32)`);
  }
  return value;
}

/** CSP frame-ancestors sources: `*`, `'self'`, `'none'` or origins like https://app.example.com. */
function frameSources(raw: unknown, name: string): string[] {
  const sources = list(raw, name);
  for (const source of sources) {
    if (!/^(\*|'self'|'none'|https?:\/\/(\*\.)?[a-z0-9.-]+(:\d+)?)$/i.test(source)) {
      throw configError(
        `${name}: ${JSON.stringify(source)} is not a frame-ancestors source (use *, 'self' or https://host)`,
      );
    }
  }
  if (sources.length === 0) throw configError(`${name} must list at least one source (or 'none')`);
  return sources;
}

function oneOf(choices: string[]): Parser {
  return (raw, name) => {
    if (typeof raw !== "string" || !choices.includes(raw)) {
      throw configError(`${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(raw)}`);
    }
    return raw;
  };
}

function postgresUrl(raw: unknown, name: string): string {
  const value = text(raw, name);
  if (!/^postgres(ql)?:\/\//.test(value)) {
    throw configError(`${name} must be a PostgreSQL URL like postgres://user:password@host:5432/db`);
  }
  return value;
}

function identifier(raw: unknown, name: string): string {
  const value = text(raw, name);
  // Short enough that the wake-up channel `hookline_due_<schema>` stays a valid name.
  if (!/^[a-z_][a-z0-9_]{0,48}$/.test(value)) {
    throw configError(`${name} must be a lowercase SQL name (letters, digits, _), got ${JSON.stringify(value)}`);
  }
  return value;
}

function integer(min: number, max: number): Parser {
  return (raw, name) => {
    const value = typeof raw === "string" ? Number(raw) : raw;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw configError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

function duration(raw: unknown, name: string): number {
  try {
    return parseDuration(text(raw, name));
  } catch (error) {
    throw configError(`${name}: ${(error as Error).message}`);
  }
}

function boolean(raw: unknown, name: string): boolean {
  if (typeof raw === "boolean") return raw;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw configError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function list(raw: unknown, name: string): string[] {
  if (typeof raw === "string")
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  if (Array.isArray(raw) && raw.every((s) => typeof s === "string")) return raw;
  throw configError(`${name} must be a list of strings`);
}

function schedule(raw: unknown, name: string): number[] {
  try {
    return parseRetrySchedule(list(raw, name));
  } catch (error) {
    throw configError(`${name}: ${(error as Error).message}`);
  }
}
