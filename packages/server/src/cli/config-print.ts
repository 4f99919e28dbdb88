import { type ConfigSources, explainConfig, type SettingOrigin } from "../config.ts";
import { redactUrl } from "../store/migrate-data/postgres-target.ts";

const MASK = "***";

/** One setting as `hookline config print` shows it: secrets masked. */
export interface PrintedSetting {
  /** The config-file key. */
  setting: string;
  value: unknown;
  source: SettingOrigin["source"];
  /** The flag, environment variable or file it came from; null for a default. */
  from: string | null;
}

/**
 * `hookline config print`: every setting with its effective value and where it came from,
 * secrets masked (a database URL keeps all but its password). Throws what loadConfig throws.
 */
export function printConfig(sources: ConfigSources, json: boolean): string {
  const settings = explainConfig(sources).settings.map(printed);
  if (json) {
    const object = Object.fromEntries(settings.map(({ setting, ...rest }) => [setting, rest]));
    return JSON.stringify(object, null, 2);
  }
  const rows = settings.map((s) => [s.setting, text(s.value), s.from ? `${s.source} ${s.from}` : s.source]);
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => (row[column] as string).length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(["setting", "value", "source"]), ...rows.map(line)].join("\n");
}

function printed(origin: SettingOrigin): PrintedSetting {
  return { setting: origin.option.file, value: masked(origin), source: origin.source, from: origin.from };
}

function masked({ option, value }: SettingOrigin): unknown {
  if (!option.secret || value === null) return value;
  if (Array.isArray(value)) return value.map(() => MASK);
  if (option.file === "database_url") return redactUrl(value as string);
  return MASK;
}

function text(value: unknown): string {
  if (value === null) return "(unset)";
  if (Array.isArray(value)) return value.length === 0 ? "(none)" : value.join(",");
  return String(value);
}
