import { useSyncExternalStore } from "react";

/**
 * A small router on the History API: the URL is the state, links are real `<a href>`,
 * and `navigate` pushes an entry and tells subscribers.
 */

const NAVIGATION_EVENT = "hookline:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(NAVIGATION_EVENT, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(NAVIGATION_EVENT, onChange);
  };
}

const currentPath = () => window.location.pathname + window.location.search;

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === currentPath()) return;
  if (options.replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  window.dispatchEvent(new Event(NAVIGATION_EVENT));
  if (!options.replace) window.scrollTo(0, 0);
}

/** The current path and query string; re-renders the caller when they change. */
export function useLocationPath(): string {
  return useSyncExternalStore(subscribe, currentPath);
}

/** True for a plain left click that the router may handle instead of the browser. */
export function isPlainClick(event: {
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  defaultPrevented: boolean;
}): boolean {
  return (
    !event.defaultPrevented &&
    event.button === 0 &&
    !event.metaKey &&
    !event.ctrlKey &&
    !event.shiftKey &&
    !event.altKey
  );
}
