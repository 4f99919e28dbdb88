/** Why a snapshot was not there in time. */
export type SnapshotMiss = { kind: "timeout" } | { kind: "error"; error: unknown };

export interface SnapshotCacheOptions {
  /** A value this young is served again without asking. */
  maxAgeMs: number;
  /** A caller waits this long at most; the load goes on, and the next caller may get it. */
  timeoutMs: number;
  now: () => number;
  onMiss?: (miss: SnapshotMiss) => void;
}

/**
 * A slow source (the store, for a metrics scrape) behind a short cache: at most one
 * load runs at a time, however many callers come, and none waits past the timeout
 * (it gets null). Scraped hard or with the store stuck, the source sees one query at
 * a time, at most one per `maxAgeMs`.
 */
export function createSnapshotCache<T>(load: () => Promise<T>, options: SnapshotCacheOptions) {
  let last: { value: T; at: number } | null = null;
  let loading: Promise<T | null> | null = null;

  function start(): Promise<T | null> {
    loading ??= load().then(
      (value) => {
        last = { value, at: options.now() };
        loading = null;
        return value;
      },
      (error: unknown) => {
        loading = null;
        options.onMiss?.({ kind: "error", error });
        return null;
      },
    );
    return loading;
  }

  return {
    /** The latest value (null when the source failed or did not answer within the timeout). */
    async get(): Promise<T | null> {
      if (last && options.now() - last.at < options.maxAgeMs) return last.value;
      const pending = start();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
      });
      const result = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (result === "timeout") {
        options.onMiss?.({ kind: "timeout" });
        return null;
      }
      return result;
    },
  };
}
