import { api, type Scope } from "../api.ts";
import type { Endpoint } from "../api-types.ts";
import { ErrorText } from "../components/messages.tsx";
import { useAction } from "../use-action.ts";

/** Disabling fails the endpoint's pending deliveries (the API's rule), so the button says so. */
export function EnableToggle({
  scope,
  endpoint,
  onChanged,
}: {
  scope: Scope;
  endpoint: Endpoint;
  onChanged: () => void;
}) {
  const toggle = useAction(async () => {
    await api.updateEndpoint(scope, endpoint.id, { enabled: !endpoint.enabled });
    onChanged();
  });
  return (
    <div>
      <button
        type="button"
        className="secondary"
        onClick={() => toggle.run()}
        disabled={toggle.busy}
        aria-describedby="enable-toggle-help"
      >
        {endpoint.enabled ? "Disable" : "Enable"}
      </button>
      <p id="enable-toggle-help" className="muted small">
        {endpoint.enabled
          ? "Disabling stops deliveries and fails the pending ones (Recover brings them back)."
          : "Enabling resumes deliveries of new events."}
      </p>
      <ErrorText error={toggle.error} />
    </div>
  );
}
