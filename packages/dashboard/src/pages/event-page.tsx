import { api, type Scope } from "../api.ts";
import { LoadMoreButton } from "../components/load-more-button.tsx";
import { LoadState } from "../components/messages.tsx";
import { formatDateTime } from "../format.ts";
import type { AccountBase } from "../routes.ts";
import { useCursorList } from "../use-cursor-list.ts";
import { usePolledResource } from "../use-polled-resource.ts";
import { DeliveryCard } from "./delivery-card.tsx";

interface Props {
  base: AccountBase;
  scope: Scope;
  eventId: string;
}

export function EventPage({ base, scope, eventId }: Props) {
  // An event never changes: loaded once. Its deliveries move on, so they are polled (the first page;
  // an event sent to many endpoints has more, a page at a time).
  const event = usePolledResource((signal) => api.getEvent(scope, eventId, signal), null);
  const deliveries = useCursorList((after, signal) => api.listEventDeliveries(scope, eventId, after, signal));

  return (
    <section className="stack">
      <div className="stack-tight">
        <p className="small muted">
          Event <span className="mono">{eventId}</span>
        </p>
        <h1 className="mono">{event.data?.type ?? "Event"}</h1>
        {event.data && (
          <p className="muted small">
            Created <time dateTime={event.data.created_at}>{formatDateTime(event.data.created_at)}</time>
          </p>
        )}
      </div>
      <div className="panel stack-tight">
        <h2>Payload</h2>
        <LoadState loading={event.loading} error={event.error}>
          {/* Rendered as a text node: the payload is the sender's data, never markup. */}
          <pre className="code-block">{JSON.stringify(event.data, null, 2)}</pre>
        </LoadState>
      </div>
      <div className="stack-tight">
        <h2>Deliveries</h2>
        <LoadState loading={deliveries.loading} error={deliveries.items.length === 0 ? deliveries.error : null}>
          {deliveries.items.length === 0 ? (
            <p className="empty-state">
              No deliveries: no enabled endpoint subscribed to this event type when it arrived.
            </p>
          ) : (
            deliveries.items.map((delivery) => (
              <DeliveryCard
                key={delivery.id}
                base={base}
                scope={scope}
                delivery={delivery}
                onRetried={deliveries.reload}
              />
            ))
          )}
        </LoadState>
        <LoadMoreButton list={deliveries} />
      </div>
    </section>
  );
}
