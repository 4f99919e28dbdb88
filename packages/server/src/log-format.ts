/**
 * Logs are JSON lines (one object per line, pino's format) for machines; in a terminal they
 * are shown as `12:00:01.250 INFO  message key=value …` for people.
 */
const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
/** Fields every line has, shown in the line's head or not at all. */
const HEAD = new Set(["time", "level", "msg", "pid", "hostname"]);

/** One JSON log line as one readable line (an error's stack on the lines after it). */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json);
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const time = new Date(Number(entry.time)).toISOString().slice(11, 23);
  const level = (LEVELS[Number(entry.level)] ?? String(entry.level)).padEnd(5);
  const fields: string[] = [];
  let stack = "";
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD.has(key)) continue;
    if (key === "err" && value && typeof value === "object" && "stack" in value) {
      stack = `\n${String((value as { stack: unknown }).stack)}`;
      continue;
    }
    fields.push(`${key}=${typeof value === "string" && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  }
  const message = entry.msg === undefined ? "" : ` ${String(entry.msg)}`;
  return `${time} ${level}${message}${fields.length ? ` ${fields.join(" ")}` : ""}${stack}\n`;
}

/** A pino destination that writes readable lines to `out`. */
export function prettyDestination(out: { write(text: string): unknown }) {
  return { write: (line: string) => out.write(prettyLine(line)) };
}
