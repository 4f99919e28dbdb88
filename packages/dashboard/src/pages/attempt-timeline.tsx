import { allPages, api, type Scope } from "../api.ts";
import type { Attempt } from "../api-types.ts";
import { LoadState } from "../components/messages.tsx";
import { describeOutcome, formatDateTime, formatMilliseconds } from "../format.ts";
import { usePolledResource } from "../use-polled-resource.ts";

/** Every try of a delivery, in the order the API lists them. */
export function AttemptTimeline({ scope, deliveryId }: { scope: Scope; deliveryId: string }) {
  const attempts = usePolledResource((signal) =>
    allPages((after) => api.listAttempts(scope, deliveryId, after, signal)),
  );
  return (
    <LoadState loading={attempts.loading} error={attempts.error}>
      {attempts.data?.length === 0 ? (
        <p className="muted small">No attempts yet.</p>
      ) : (
        <ol className="timeline" aria-label="Attempts">
          {attempts.data?.map((attempt) => (
            <AttemptItem key={attempt.id} attempt={attempt} />
          ))}
        </ol>
      )}
    </LoadState>
  );
}

function AttemptItem({ attempt }: { attempt: Attempt }) {
  const ok = attempt.error === null && attempt.status_code !== null && attempt.status_code < 300;
  return (
    <li className={`timeline-item ${ok ? "timeline-ok" : "timeline-failed"}`}>
      <div className="row">
        <time dateTime={attempt.started_at} className="small">
          {formatDateTime(attempt.started_at)}
        </time>
        <strong>{describeOutcome(attempt.status_code, attempt.error)}</strong>
        <span className="small">{formatMilliseconds(attempt.duration_ms)}</span>
        <span className="badge">{attempt.trigger}</span>
      </div>
      {attempt.response_snippet && (
        <details>
          <summary>Response body</summary>
          <pre className="code-block">{attempt.response_snippet}</pre>
        </details>
      )}
    </li>
  );
}
