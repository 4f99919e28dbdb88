import { useEffect, useRef, useState } from "react";
import { api, type Scope } from "../api.ts";
import type { HooklineEvent } from "../api-types.ts";
import { Link } from "../components/link.tsx";
import { ErrorText } from "../components/messages.tsx";
import { describeOutcome, formatMilliseconds } from "../format.ts";
import { type AccountBase, eventPath } from "../routes.ts";
import { type TestDeliveryResult, waitForTestDelivery } from "../test-delivery-result.ts";

type Progress =
  | { phase: "idle" }
  | { phase: "waiting"; event: HooklineEvent }
  | { phase: "done"; event: HooklineEvent; result: TestDeliveryResult }
  | { phase: "error"; event: HooklineEvent | null; error: Error };

interface Props {
  base: AccountBase;
  scope: Scope;
  endpointId: string;
  onSent: () => void;
}

export function SendTestEvent({ base, scope, endpointId, onSent }: Props) {
  const [progress, setProgress] = useState<Progress>({ phase: "idle" });
  const running = useRef<AbortController | null>(null);
  useEffect(() => () => running.current?.abort(), []);

  async function send() {
    running.current?.abort();
    const controller = new AbortController();
    running.current = controller;
    let event: HooklineEvent | null = null;
    try {
      event = await api.sendTestEvent(scope, endpointId);
      setProgress({ phase: "waiting", event });
      const result = await waitForTestDelivery(scope, event.id, endpointId, controller.signal);
      if (controller.signal.aborted) return;
      setProgress({ phase: "done", event, result });
      onSent();
    } catch (error) {
      if (!controller.signal.aborted) setProgress({ phase: "error", event, error: error as Error });
    }
  }

  return (
    <div>
      <button type="button" onClick={send} disabled={progress.phase === "waiting"}>
        Send test event
      </button>
      <div aria-live="polite">
        {progress.phase === "waiting" && <p className="muted">Sent; waiting for the delivery…</p>}
        {progress.phase === "done" && <ResultText result={progress.result} />}
        {progress.phase === "error" && <ErrorText error={progress.error} />}
        {progress.phase !== "idle" && progress.event && (
          <p className="small">
            <Link href={eventPath(base, progress.event.id)}>View test event {progress.event.id}</Link>
          </p>
        )}
      </div>
    </div>
  );
}

function ResultText({ result }: { result: TestDeliveryResult }) {
  if (result.outcome === "no-attempt-yet") {
    return <p>No result after 30 s: the delivery is {result.delivery ? result.delivery.status : "not created yet"}.</p>;
  }
  const { attempt } = result;
  const outcome = describeOutcome(attempt.status_code, attempt.error);
  return result.outcome === "delivered" ? (
    <p className="success-text">
      Delivered: {outcome} in {formatMilliseconds(attempt.duration_ms)}
    </p>
  ) : (
    <p className="error-text">
      Failed: {outcome} after {formatMilliseconds(attempt.duration_ms)}
    </p>
  );
}
