import { useState } from "react";

export interface Action<A extends unknown[]> {
  run: (...args: A) => Promise<void>;
  busy: boolean;
  error: Error | null;
}

/** A button's request: busy while it runs, its failure kept to show next to the button. */
export function useAction<A extends unknown[]>(perform: (...args: A) => Promise<void>): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);

  async function run(...args: A) {
    setBusy(true);
    setError(null);
    try {
      await perform(...args);
    } catch (failure) {
      setError(failure instanceof Error ? failure : new Error(String(failure)));
    } finally {
      setBusy(false);
    }
  }

  return { run, busy, error };
}
