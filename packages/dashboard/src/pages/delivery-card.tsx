import { ApiError, api, type Scope } from "../api.ts";
import type { Delivery } from "../api-types.ts";
import { Link } from "../components/link.tsx";
import { ErrorText } from "../components/messages.tsx";
import { StatusBadge } from "../components/status-badge.tsx";
import { describeOutcome, formatDateTime, formatRelative } from "../format.ts";
import { type AccountBase, endpointPath } from "../routes.ts";
import { useAction } from "../use-action.ts";
import { usePolledResource } from "../use-polled-resource.ts";
import { AttemptTimeline } from "./attempt-timeline.tsx";

interface Props {
  base: AccountBase;
  scope: Scope;
  delivery: Delivery;
  onRetried: () => void;
}

export function DeliveryCard({ base, scope, delivery, onRetried }: Props) {
  const headingId = `delivery-${delivery.id}`;
  const retry = useAction(async () => {
    await api.retryDelivery(scope, delivery.id);
    onRetried();
  });
  const endpoint = usePolledResource((signal) => api.getEndpoint(scope, delivery.endpoint_id, signal), null);
  const endpointDeleted = endpoint.error instanceof ApiError && endpoint.error.status === 404;

  return (
    <article className="card stack-tight" aria-labelledby={headingId}>
      <div className="row spread">
        <h3 id={headingId} className="delivery-heading">
          <EndpointLabel
            base={base}
            endpointId={delivery.endpoint_id}
            url={endpoint.data?.url}
            deleted={endpointDeleted}
          />
        </h3>
        <StatusBadge status={delivery.status} />
      </div>
      <p className="muted small">
        Delivery <span className="mono">{delivery.id}</span> · {delivery.attempt_count}{" "}
        {delivery.attempt_count === 1 ? "attempt" : "attempts"}
        {delivery.attempt_count > 0 && <> · last: {describeOutcome(delivery.last_status_code, delivery.last_error)}</>}
      </p>
      {delivery.status === "pending" && delivery.next_attempt_at && (
        <NextRetry delivery={delivery} at={delivery.next_attempt_at} />
      )}
      {endpointDeleted ? (
        <p className="muted small">Its endpoint was deleted, so this delivery can no longer be retried.</p>
      ) : (
        <div>
          <button type="button" className="secondary" onClick={() => retry.run()} disabled={retry.busy}>
            Retry now
          </button>
          <ErrorText error={retry.error} />
        </div>
      )}
      <AttemptTimeline scope={scope} deliveryId={delivery.id} />
    </article>
  );
}

function NextRetry({ delivery, at }: { delivery: Delivery; at: string }) {
  const relative = formatRelative(at);
  return (
    <p>
      <time dateTime={at} title={formatDateTime(at)}>
        {relative === "just now" || relative.endsWith("ago") ? "Next retry due now" : `Next retry ${relative}`}
      </time>
      {` — attempt ${delivery.scheduled_attempts + 1} of ${delivery.max_scheduled_attempts}`}
    </p>
  );
}

/** The endpoint's URL when it still exists (a deleted endpoint answers 404: its id is shown). */
function EndpointLabel({
  base,
  endpointId,
  url,
  deleted,
}: {
  base: AccountBase;
  endpointId: string;
  url: string | undefined;
  deleted: boolean;
}) {
  if (deleted) {
    return (
      <span>
        Deleted endpoint <span className="mono">{endpointId}</span>
      </span>
    );
  }
  return (
    <Link href={endpointPath(base, endpointId)} className="mono endpoint-url">
      {url ?? endpointId}
    </Link>
  );
}
