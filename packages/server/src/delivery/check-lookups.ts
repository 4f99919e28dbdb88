import type { LookupAll } from "./egress-guard.ts";

export interface CheckLookupLimits {
  /** How long a check waits for an answer, its turn included, before going on without one. */
  timeoutMs: number;
  /** Lookups of checks running at once; more wait for a turn. */
  maxRunning: number;
}

/**
 * DNS for the endpoint URL check, bounded in time and in threads. The system resolver runs
 * on libuv's thread pool (4 threads), and a lookup cannot be cancelled: with a resolver that
 * hangs, each check would hold its API request, and a pool thread, for as long as the system
 * resolver retries, and a few checks at once would leave no thread for delivery connections.
 * So at most `maxRunning` lookups of checks run at once, and a check with no answer within
 * `timeoutMs` goes on without one (null, as for a name that does not resolve): the check is
 * advisory, and the connect-time guard still applies.
 */
export function createCheckLookups(limits: CheckLookupLimits) {
  let running = 0;
  const turns: (() => void)[] = [];
  /** Gives free threads to the checks waiting, in order; one that gave up meanwhile starts nothing. */
  const nextTurns = () => {
    while (running < limits.maxRunning) {
      const start = turns.shift();
      if (!start) return;
      start();
    }
  };

  return function lookupForCheck(lookup: LookupAll, hostname: string): Promise<string[] | null> {
    return new Promise((resolve) => {
      let answered = false;
      const answer = (addresses: string[] | null) => {
        if (answered) return;
        answered = true;
        clearTimeout(timer);
        resolve(addresses);
      };
      const timer = setTimeout(() => answer(null), limits.timeoutMs);
      const start = () => {
        if (answered) return;
        running++;
        // A resolver that throws, or answers something unreadable, counts as no answer.
        new Promise<string[]>((addresses) => addresses(lookup(hostname).then((found) => found.map((a) => a.address))))
          .catch(() => null)
          .then((addresses) => {
            running--;
            answer(addresses);
            nextTurns();
          });
      };
      if (running < limits.maxRunning) start();
      else turns.push(start);
    });
  };
}

/** The URL checks' lookups: one bound for the process, as the thread pool is the process's. */
export const lookupForCheck = createCheckLookups({ timeoutMs: 3_000, maxRunning: 2 });
