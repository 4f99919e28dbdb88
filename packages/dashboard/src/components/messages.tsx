import type { ReactNode } from "react";

/** An error shown next to the control that caused it; announced to screen readers. */
export function ErrorText({ error, id }: { error: Error | string | null | undefined; id?: string }) {
  if (!error) return null;
  return (
    <p className="error-text" role="alert" id={id}>
      {typeof error === "string" ? error : error.message}
    </p>
  );
}

/** Loading, failure and empty states of a loaded resource, in one place. */
export function LoadState({
  loading,
  error,
  children,
}: {
  loading: boolean;
  error: Error | null;
  children?: ReactNode;
}) {
  if (error) return <ErrorText error={error} />;
  if (loading) return <p className="muted">Loading…</p>;
  return <>{children}</>;
}

export function Notice({ tone, children }: { tone: "warning" | "error"; children: ReactNode }) {
  return (
    <div className={`notice notice-${tone}`} role="status">
      {children}
    </div>
  );
}
