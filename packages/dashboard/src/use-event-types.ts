import { api, type Scope } from "./api.ts";
import { usePolledResource } from "./use-polled-resource.ts";

/** The event-type catalog (changes rarely: loaded once per page). */
export function useEventTypes(scope: Scope) {
  return usePolledResource((signal) => api.listEventTypes(scope, signal).then((answer) => answer.data), null);
}
