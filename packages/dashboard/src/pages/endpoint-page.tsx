import { api, type Scope } from "../api.ts";
import type { Endpoint, EndpointStats } from "../api-types.ts";
import { EndpointForm } from "../components/endpoint-form.tsx";
import { Link } from "../components/link.tsx";
import { LoadState, Notice } from "../components/messages.tsx";
import { EnabledBadge } from "../components/status-badge.tsx";
import { changesOfEdits, type EndpointFormValues, valuesOfEndpoint } from "../endpoint-form-values.ts";
import { describeOutcome, formatDateTime } from "../format.ts";
import { type AccountBase, endpointsPath } from "../routes.ts";
import { useEventTypes } from "../use-event-types.ts";
import { usePolledResource } from "../use-polled-resource.ts";
import { DeleteEndpoint } from "./delete-endpoint.tsx";
import { EnableToggle } from "./enable-toggle.tsx";
import { EndpointHealth } from "./endpoint-health.tsx";
import { RecoverFailed } from "./recover-failed.tsx";
import { SendTestEvent } from "./send-test-event.tsx";
import { SigningSecret } from "./signing-secret.tsx";

interface Props {
  base: AccountBase;
  scope: Scope;
  endpointId: string;
}

export function EndpointPage({ base, scope, endpointId }: Props) {
  const endpoint = usePolledResource((signal) => api.getEndpoint(scope, endpointId, signal));
  const stats = usePolledResource((signal) => api.getEndpointStats(scope, endpointId, signal));
  const catalog = useEventTypes(scope);

  const refresh = () => {
    endpoint.reload();
    stats.reload();
  };

  if (!endpoint.data) {
    return (
      <section>
        <h1>Endpoint</h1>
        <LoadState loading={endpoint.loading} error={endpoint.error} />
        <p>
          <Link href={endpointsPath(base)}>Back to webhooks</Link>
        </p>
      </section>
    );
  }
  const current = endpoint.data;

  async function save(_values: EndpointFormValues, edited: Partial<EndpointFormValues>) {
    const changes = changesOfEdits(edited, { includeUrl: current.kind === "http" });
    if (Object.keys(changes).length > 0) await api.updateEndpoint(scope, endpointId, changes);
    refresh();
  }

  return (
    <section className="stack">
      <div className="stack-tight">
        <p className="small muted">
          Endpoint <span className="mono">{current.id}</span>
        </p>
        <h1 className="endpoint-url mono">{current.url}</h1>
        <p className="row">
          {current.kind === "listen" && <span className="badge badge-listen">hookline listen</span>}
          <EnabledBadge enabled={current.enabled} />
          {current.description && <span>{current.description}</span>}
        </p>
      </div>
      <LoadState loading={false} error={endpoint.error} />
      <EndpointBanners endpoint={current} stats={stats.data} />
      <div className="row actions-row">
        <SendTestEvent base={base} scope={scope} endpointId={endpointId} onSent={stats.reload} />
        <EnableToggle scope={scope} endpoint={current} onChanged={refresh} />
      </div>
      <EndpointHealth stats={stats.data} loading={stats.loading} error={stats.error} />
      <SigningSecret scope={scope} endpoint={current} onRotated={endpoint.reload} />
      <div className="panel">
        <h2>Settings</h2>
        <EndpointForm
          idPrefix="endpoint"
          environment={base.environment}
          saved={valuesOfEndpoint(current)}
          catalog={catalog.data}
          submitLabel="Save"
          urlReadOnly={current.kind === "listen"}
          onSubmit={save}
        />
      </div>
      <RecoverFailed scope={scope} endpointId={endpointId} onRecovered={refresh} />
      <DeleteEndpoint base={base} scope={scope} endpoint={current} />
    </section>
  );
}

function EndpointBanners({ endpoint, stats }: { endpoint: Endpoint; stats: EndpointStats | undefined }) {
  const last = stats?.last_attempt;
  return (
    <>
      {!endpoint.enabled && (
        <Notice tone="warning">This endpoint is disabled: {endpoint.disabled_reason || "disabled by a user"}</Notice>
      )}
      {last && !last.ok && (
        <Notice tone="error">
          <p>
            Failing: the last attempt, at <time dateTime={last.at}>{formatDateTime(last.at)}</time>, got{" "}
            {describeOutcome(last.status_code, last.error)}
          </p>
        </Notice>
      )}
    </>
  );
}
