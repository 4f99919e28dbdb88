/** Where progress goes (stderr): redrawn in place on a terminal, plain lines otherwise. */
export interface ProgressStream {
  write(text: string): void;
  readonly isTTY: boolean;
}

export interface TableProgress {
  advance(rows: number): void;
  /** Prints the last state; `complete: false` after a failure, so the next message starts on a new line. */
  finish(complete?: boolean): void;
}

const REDRAW_MS = 100;
const LINE_EVERY_MS = 2000;
const BAR_WIDTH = 24;

/** A thousands-separated number, the same on every machine. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** One table's progress: name, rows done of total, percent, and a bar on a terminal. */
export function tableProgress(out: ProgressStream, table: string, total: number, clock = Date.now): TableProgress {
  let done = 0;
  const startedAt = clock();
  let shownAt = startedAt;
  const line = (finished = false) => {
    const fraction = total === 0 ? 1 : Math.min(done / total, 1);
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const counts = `${formatCount(done).padStart(formatCount(total).length)} / ${formatCount(total)}`;
    const filled = Math.round(fraction * BAR_WIDTH);
    const bar = out.isTTY ? ` [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}]` : "";
    const took = finished ? `  ${((clock() - startedAt) / 1000).toFixed(1)} s` : "";
    return `  ${table.padEnd(16)} ${counts} rows ${percent}${bar}${took}`;
  };
  if (out.isTTY) out.write(`\r\x1b[K${line()}`);
  return {
    advance(rows) {
      done += rows;
      const now = clock();
      if (out.isTTY && now - shownAt >= REDRAW_MS) {
        out.write(`\r\x1b[K${line()}`);
        shownAt = now;
      } else if (!out.isTTY && now - shownAt >= LINE_EVERY_MS) {
        out.write(`${line()}\n`);
        shownAt = now;
      }
    },
    finish(complete = true) {
      if (out.isTTY) out.write(`\r\x1b[K${line(complete)}\n`);
      else if (complete) out.write(`${line(true)}\n`);
    },
  };
}
