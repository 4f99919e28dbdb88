import { useEffect, useState } from "react";
import { api, type Scope } from "../api.ts";
import { DELIVERY_STATUSES, type DeliveryStatus, type EventFilters } from "../api-types.ts";
import { Link } from "../components/link.tsx";
import { LoadMoreButton } from "../components/load-more-button.tsx";
import { LoadState } from "../components/messages.tsx";
import { formatDateTime, localInputToIso } from "../format.ts";
import { type AccountBase, eventPath } from "../routes.ts";
import { useCursorList } from "../use-cursor-list.ts";
import { useEventTypes } from "../use-event-types.ts";

interface FilterInputs {
  type: string;
  deliveryStatus: DeliveryStatus | "";
  since: string;
  until: string;
}

const NO_FILTERS: FilterInputs = { type: "", deliveryStatus: "", since: "", until: "" };
const TYPING_PAUSE_MS = 400;

function toQuery(inputs: FilterInputs): EventFilters {
  return {
    type: inputs.type.trim(),
    delivery_status: inputs.deliveryStatus,
    since: localInputToIso(inputs.since) ?? "",
    until: localInputToIso(inputs.until) ?? "",
  };
}

export function EventsPage({ base, scope }: { base: AccountBase; scope: Scope }) {
  const catalog = useEventTypes(scope);
  const [inputs, setInputs] = useState(NO_FILTERS);
  const [applied, setApplied] = useState(NO_FILTERS);

  // Filters apply on their own, after a short pause so typing a type does not query every key.
  useEffect(() => {
    const timer = setTimeout(() => setApplied(inputs), TYPING_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [inputs]);

  const change = (update: Partial<FilterInputs>) => setInputs((previous) => ({ ...previous, ...update }));
  const filtered = JSON.stringify(applied) !== JSON.stringify(NO_FILTERS);

  return (
    <section className="stack">
      <h1>Events</h1>
      <form className="filters" aria-label="Filter events" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="filter-type">Event type</label>
          <input
            id="filter-type"
            list="event-type-options"
            placeholder="any"
            value={inputs.type}
            onChange={(event) => change({ type: event.target.value })}
          />
          <datalist id="event-type-options">
            {catalog.data?.map((type) => (
              <option key={type.name} value={type.name} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor="filter-status">Delivery status</label>
          <select
            id="filter-status"
            value={inputs.deliveryStatus}
            onChange={(event) => change({ deliveryStatus: event.target.value as DeliveryStatus | "" })}
          >
            <option value="">any</option>
            {DELIVERY_STATUSES.map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-since">Since</label>
          <input
            id="filter-since"
            type="datetime-local"
            value={inputs.since}
            onChange={(event) => change({ since: event.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="filter-until">Until</label>
          <input
            id="filter-until"
            type="datetime-local"
            value={inputs.until}
            onChange={(event) => change({ until: event.target.value })}
          />
        </div>
        {filtered && (
          <div>
            <button type="button" className="secondary" onClick={() => setInputs(NO_FILTERS)}>
              Clear filters
            </button>
          </div>
        )}
      </form>
      <EventList
        key={JSON.stringify(applied)}
        base={base}
        scope={scope}
        filters={toQuery(applied)}
        filtered={filtered}
      />
    </section>
  );
}

interface EventListProps {
  base: AccountBase;
  scope: Scope;
  filters: EventFilters;
  filtered: boolean;
}

/** Remounted when the filters change, so a new filter starts from the first page. */
function EventList({ base, scope, filters, filtered }: EventListProps) {
  const events = useCursorList((after, signal) => api.listEvents(scope, filters, after, signal));

  return (
    <>
      <LoadState loading={events.loading} error={events.items.length === 0 ? events.error : null}>
        {events.items.length === 0 ? (
          <p className="empty-state">
            {filtered ? (
              events.hasMore ? (
                "No match among the newest events. Load more to look further back."
              ) : (
                "No events match these filters."
              )
            ) : (
              <>
                No events yet. Send one with <code>POST /v1/events</code> or the 'Send test event' button on an
                endpoint.
              </>
            )}
          </p>
        ) : (
          <ul className="event-list">
            {events.items.map((event) => (
              <li key={event.id} className="event-row">
                <Link href={eventPath(base, event.id)} className="mono event-type">
                  {event.type}
                </Link>
                <span className="mono muted small">{event.id}</span>
                <time dateTime={event.created_at} className="small">
                  {formatDateTime(event.created_at)}
                </time>
              </li>
            ))}
          </ul>
        )}
      </LoadState>
      <LoadMoreButton list={events} />
    </>
  );
}
