import { allPages, api, type Scope } from "../api.ts";
import type { Endpoint } from "../api-types.ts";
import { EndpointForm } from "../components/endpoint-form.tsx";
import { EventTypesSummary } from "../components/event-types-summary.tsx";
import { Link } from "../components/link.tsx";
import { LoadState } from "../components/messages.tsx";
import { EnabledBadge } from "../components/status-badge.tsx";
import { changesOfValues, type EndpointFormValues, NEW_ENDPOINT_VALUES } from "../endpoint-form-values.ts";
import { navigate } from "../router.ts";
import { type AccountBase, endpointPath } from "../routes.ts";
import { useEventTypes } from "../use-event-types.ts";
import { usePolledResource } from "../use-polled-resource.ts";

export function EndpointsPage({ base, scope }: { base: AccountBase; scope: Scope }) {
  const endpoints = usePolledResource((signal) => allPages((after) => api.listEndpoints(scope, after, signal)));
  const catalog = useEventTypes(scope);

  async function addEndpoint(values: EndpointFormValues) {
    const fields = changesOfValues(values, { includeUrl: false });
    const endpoint = await api.createEndpoint(scope, { ...fields, url: values.url.trim() });
    navigate(endpointPath(base, endpoint.id));
  }

  return (
    <section className="stack">
      <h1>Webhooks</h1>
      <LoadState loading={endpoints.loading} error={endpoints.data ? null : endpoints.error}>
        {endpoints.data?.length === 0 ? (
          <p className="empty-state">No endpoints yet. Add the URL where you want to receive webhooks.</p>
        ) : (
          <ul className="card-list">
            {endpoints.data?.map((endpoint) => (
              <EndpointRow key={endpoint.id} base={base} endpoint={endpoint} />
            ))}
          </ul>
        )}
      </LoadState>
      <div className="panel">
        <h2>Add endpoint</h2>
        <EndpointForm
          idPrefix="new-endpoint"
          environment={base.environment}
          saved={NEW_ENDPOINT_VALUES}
          catalog={catalog.data}
          submitLabel="Add endpoint"
          onSubmit={addEndpoint}
        />
      </div>
    </section>
  );
}

function EndpointRow({ base, endpoint }: { base: AccountBase; endpoint: Endpoint }) {
  return (
    <li className="card stack-tight">
      <div className="row spread">
        <Link className="endpoint-url mono" href={endpointPath(base, endpoint.id)}>
          {endpoint.url}
        </Link>
        <span className="row">
          {endpoint.kind === "listen" && <span className="badge badge-listen">hookline listen</span>}
          <EnabledBadge enabled={endpoint.enabled} />
        </span>
      </div>
      {endpoint.description && <p>{endpoint.description}</p>}
      <p className="muted small">
        <EventTypesSummary eventTypes={endpoint.event_types} />
      </p>
    </li>
  );
}
