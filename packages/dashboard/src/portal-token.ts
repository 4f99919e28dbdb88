/**
 * A portal link is `/portal#plt_…`. The token is read once at start-up and removed from
 * the address at once, so it stays out of history, bookmarks and screenshots.
 */
export function takePortalTokenFromUrl(): string | null {
  const { pathname, hash, search } = window.location;
  if (pathname.replace(/\/$/, "") !== "/portal" || !hash.startsWith("#plt_")) return null;
  window.history.replaceState(null, "", `/portal${search}`);
  return hash.slice(1);
}
