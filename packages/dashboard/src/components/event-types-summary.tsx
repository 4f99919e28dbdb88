/** "All event types" or the list, for an endpoint's filter. */
export function EventTypesSummary({ eventTypes }: { eventTypes: string[] | null }) {
  if (eventTypes === null || eventTypes.length === 0) return <span>All event types</span>;
  return (
    <span>
      {eventTypes.length === 1 ? "1 event type: " : `${eventTypes.length} event types: `}
      <span className="mono">{eventTypes.join(", ")}</span>
    </span>
  );
}
