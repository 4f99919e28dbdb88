import { useState } from "react";
import { api, type Scope } from "../api.ts";
import type { Endpoint } from "../api-types.ts";
import { ErrorText } from "../components/messages.tsx";
import { navigate } from "../router.ts";
import { type AccountBase, endpointsPath } from "../routes.ts";
import { useAction } from "../use-action.ts";

export function DeleteEndpoint({ base, scope, endpoint }: { base: AccountBase; scope: Scope; endpoint: Endpoint }) {
  const [confirming, setConfirming] = useState(false);
  const remove = useAction(async () => {
    await api.deleteEndpoint(scope, endpoint.id);
    navigate(endpointsPath(base));
  });

  return (
    <div className="panel danger-zone stack-tight">
      <h2>Delete endpoint</h2>
      {confirming ? (
        <div className="stack-tight">
          <p>
            Delete <span className="mono">{endpoint.url}</span>? Its pending deliveries are cancelled. This cannot be
            undone.
          </p>
          <div className="row">
            <button type="button" className="danger" onClick={() => remove.run()} disabled={remove.busy}>
              Yes, delete this endpoint
            </button>
            <button type="button" className="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <div>
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            Delete endpoint
          </button>
        </div>
      )}
      <ErrorText error={remove.error} />
    </div>
  );
}
