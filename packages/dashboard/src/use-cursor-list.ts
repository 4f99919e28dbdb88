import { useState } from "react";
import type { Page } from "./api-types.ts";
import { usePolledResource } from "./use-polled-resource.ts";

export interface CursorList<T> {
  items: T[];
  hasMore: boolean;
  loading: boolean;
  error: Error | null;
  loadMore: () => Promise<void>;
  loadingMore: boolean;
  loadMoreError: Error | null;
  reload: () => void;
}

/**
 * A newest-first list with "Load more". Polling refreshes the first page only; pages
 * loaded with "Load more" stay, so new items appear on top without losing the reader's place.
 */
export function useCursorList<T extends { id: string }>(
  loadPage: (after: string | undefined, signal?: AbortSignal) => Promise<Page<T>>,
): CursorList<T> {
  const firstPage = usePolledResource((signal) => loadPage(undefined, signal));
  const [older, setOlder] = useState<{ items: T[]; nextCursor: string | null } | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [loadMoreError, setLoadMoreError] = useState<Error | null>(null);

  const fresh = firstPage.data?.data ?? [];
  const freshIds = new Set(fresh.map((item) => item.id));
  const items = older ? [...fresh, ...older.items.filter((item) => !freshIds.has(item.id))] : fresh;
  const nextCursor = older ? older.nextCursor : (firstPage.data?.next_cursor ?? null);

  async function loadMore() {
    if (!nextCursor) return;
    setLoadingMore(true);
    setLoadMoreError(null);
    try {
      const page = await loadPage(nextCursor);
      // What is shown now is kept as a whole: first-page items that a refresh pushes off stay listed.
      const shownIds = new Set(items.map((item) => item.id));
      setOlder({
        items: [...items, ...page.data.filter((item) => !shownIds.has(item.id))],
        nextCursor: page.next_cursor,
      });
    } catch (error) {
      setLoadMoreError(error as Error);
    } finally {
      setLoadingMore(false);
    }
  }

  return {
    items,
    hasMore: nextCursor !== null,
    loading: firstPage.loading,
    error: firstPage.error,
    loadMore,
    loadingMore,
    loadMoreError,
    reload: firstPage.reload,
  };
}
