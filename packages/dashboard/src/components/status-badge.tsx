import type { DeliveryStatus } from "../api-types.ts";

/** A delivery status as text, coloured by outcome (the word carries the meaning, not the colour). */
export function StatusBadge({ status }: { status: DeliveryStatus }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function EnabledBadge({ enabled }: { enabled: boolean }) {
  return (
    <span className={`badge ${enabled ? "badge-succeeded" : "badge-cancelled"}`}>
      {enabled ? "enabled" : "disabled"}
    </span>
  );
}
