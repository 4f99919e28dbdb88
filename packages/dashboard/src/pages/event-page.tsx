import { api, type Scope } from "../api.ts";
import { LoadState } from "../components/messages.tsx";
import { formatDateTime } from "../format.ts";
import type { AccountBase } from "../routes.ts";
import { usePolledResource } from "../use-polled-resource.ts";
import { DeliveryCard } from "./delivery-card.tsx";

interface Props {
  base: AccountBase;
  scope: Scope;
  eventId: string;
}

export function EventPage({ base, scope, eventId }: Props) {
  // An event never changes: loaded once. Its deliveries move on, so they are polled.
  const event = usePolledResource((signal) => api.getEvent(scope, eventId, signal), null);
  const deliveries = usePolledResource((signal) => api.listEventDeliveries(scope, eventId, signal));

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
        <LoadState loading={deliveries.loading} error={deliveries.data ? null : deliveries.error}>
          {deliveries.data?.data.length === 0 ? (
            <p className="empty-state">
              No deliveries: no enabled endpoint subscribed to this event type when it arrived.
            </p>
          ) : (
            deliveries.data?.data.map((delivery) => (
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
      </div>
    </section>
  );
}
