import type { CursorList } from "../use-cursor-list.ts";
import { ErrorText } from "./messages.tsx";

export function LoadMoreButton({ list }: { list: CursorList<{ id: string }> }) {
  if (!list.hasMore && !list.loadMoreError) return null;
  return (
    <div>
      {list.hasMore && (
        <button type="button" className="secondary" onClick={list.loadMore} disabled={list.loadingMore}>
          {list.loadingMore ? "Loading…" : "Load more"}
        </button>
      )}
      <ErrorText error={list.loadMoreError} />
    </div>
  );
}
