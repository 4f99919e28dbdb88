import { useState } from "react";
import { api, type Scope } from "../api.ts";
import type { Endpoint } from "../api-types.ts";
import { CopyButton } from "../components/copy-button.tsx";
import { ErrorText } from "../components/messages.tsx";
import { formatDateTime, formatRelative } from "../format.ts";
import { useAction } from "../use-action.ts";

export function SigningSecret({
  scope,
  endpoint,
  onRotated,
}: {
  scope: Scope;
  endpoint: Endpoint;
  onRotated: () => void;
}) {
  const [revealed, setRevealed] = useState(false);
  const rotate = useAction(async () => {
    await api.rotateSecret(scope, endpoint.id);
    onRotated();
  });
  const previousExpiry = endpoint.previous_secret_expires_at;
  const previousStillSigns = previousExpiry !== null && new Date(previousExpiry).getTime() > Date.now();

  return (
    <div className="panel stack-tight">
      <h2>Signing secret</h2>
      <p className="muted small">Every request carries a signature made with this secret; your receiver verifies it.</p>
      <div className="row">
        <code className="secret">{revealed ? endpoint.secret : "whsec_••••••••••••••••••••"}</code>
        <button type="button" className="secondary" onClick={() => setRevealed(!revealed)}>
          {revealed ? "Hide" : "Reveal"}
        </button>
        <CopyButton text={endpoint.secret} />
      </div>
      {previousStillSigns && (
        <p className="small">
          The previous secret still signs requests until{" "}
          <time dateTime={previousExpiry} title={formatDateTime(previousExpiry)}>
            {formatDateTime(previousExpiry)} ({formatRelative(previousExpiry)})
          </time>
          : requests carry both signatures until then.
        </p>
      )}
      <div className="row">
        <button type="button" className="secondary" onClick={() => rotate.run()} disabled={rotate.busy}>
          Rotate
        </button>
        <span className="muted small">Makes a new secret; the current one keeps signing for 24 hours.</span>
      </div>
      <ErrorText error={rotate.error} />
    </div>
  );
}
