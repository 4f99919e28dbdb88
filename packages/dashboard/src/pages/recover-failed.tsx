import { type FormEvent, useState } from "react";
import { api, type Scope } from "../api.ts";
import { ErrorText } from "../components/messages.tsx";
import { isoToLocalInput, localInputToIso } from "../format.ts";
import { useAction } from "../use-action.ts";

const DAY_MS = 86_400_000;

export function RecoverFailed({
  scope,
  endpointId,
  onRecovered,
}: {
  scope: Scope;
  endpointId: string;
  onRecovered: () => void;
}) {
  const [since, setSince] = useState(() => isoToLocalInput(new Date(Date.now() - DAY_MS)));
  const [recovered, setRecovered] = useState<number | null>(null);
  const recover = useAction(async () => {
    setRecovered(null);
    const sinceIso = localInputToIso(since);
    if (!sinceIso) throw new Error("Pick the date and time to recover from.");
    const answer = await api.recoverFailed(scope, endpointId, sinceIso);
    setRecovered(answer.recovered);
    onRecovered();
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    void recover.run();
  }

  return (
    <div className="panel stack-tight">
      <h2>Recover failed deliveries</h2>
      <p className="muted small">
        Re-queues this endpoint's failed deliveries (including those failed by disabling it) with a fresh retry
        schedule.
      </p>
      <form className="inline-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor="recover-since">Recover failed deliveries since</label>
          <input
            id="recover-since"
            type="datetime-local"
            required
            value={since}
            onChange={(event) => setSince(event.target.value)}
          />
        </div>
        <button type="submit" disabled={recover.busy}>
          Recover
        </button>
      </form>
      <div aria-live="polite">
        {recovered !== null && (
          <p className="success-text">
            Re-queued {recovered} {recovered === 1 ? "delivery" : "deliveries"}
          </p>
        )}
      </div>
      <ErrorText error={recover.error} />
    </div>
  );
}
