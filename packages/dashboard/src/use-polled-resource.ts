import { useCallback, useEffect, useRef, useState } from "react";

const POLL_INTERVAL_MS = 2000;

export interface Resource<T> {
  data: T | undefined;
  /** The last load's failure; `data` keeps the last good answer meanwhile. */
  error: Error | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads data when the component mounts, then again every `intervalMs` while the tab is
 * visible (null: load once). Components remount (React `key`) when what they show changes,
 * so `load` is read when it runs rather than tracked as a dependency.
 */
export function usePolledResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  intervalMs: number | null = POLL_INTERVAL_MS,
): Resource<T> {
  const latestLoad = useRef(load);
  useEffect(() => {
    latestLoad.current = load;
  });
  const [state, setState] = useState<{ data: T | undefined; error: Error | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    // The generation number makes a reload restart this effect (and abort a load in flight).
    void generation;

    async function refresh() {
      clearTimeout(timer);
      if (running) return;
      running = true;
      try {
        const data = await latestLoad.current(controller.signal);
        if (!controller.signal.aborted) setState({ data, error: null, loading: false });
      } catch (error) {
        if (!controller.signal.aborted) {
          const failure = error instanceof Error ? error : new Error(String(error));
          setState((previous) => ({ ...previous, error: failure, loading: false }));
        }
      } finally {
        running = false;
      }
      if (!controller.signal.aborted && intervalMs !== null && document.visibilityState === "visible") {
        timer = setTimeout(refresh, intervalMs);
      }
    }
    function onVisibilityChange() {
      if (intervalMs !== null && document.visibilityState === "visible") void refresh();
    }

    document.addEventListener("visibilitychange", onVisibilityChange);
    void refresh();
    return () => {
      controller.abort();
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibilityChange);
    };
  }, [generation, intervalMs]);

  const reload = useCallback(() => setGeneration((count) => count + 1), []);
  return { ...state, reload };
}
