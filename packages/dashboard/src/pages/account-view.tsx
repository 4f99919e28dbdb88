import { useMemo } from "react";
import type { Scope } from "../api.ts";
import { EnvironmentBar, EnvironmentSwitch } from "../components/environment-switch.tsx";
import { Link } from "../components/link.tsx";
import { type AccountBase, type AccountSection, endpointsPath, eventsPath } from "../routes.ts";
import { AccountName } from "./account-name.tsx";
import { EndpointPage } from "./endpoint-page.tsx";
import { EndpointsPage } from "./endpoints-page.tsx";
import { EventPage } from "./event-page.tsx";
import { EventsPage } from "./events-page.tsx";

/** One account in one environment: the same pages for an operator (`/accounts/…`) and a portal session (`/portal/…`). */
export function AccountView({ base, section }: { base: AccountBase; section: AccountSection }) {
  const scope = useMemo<Scope>(
    () => ({ accountId: base.accountId, environment: base.environment }),
    [base.accountId, base.environment],
  );
  const inWebhooks = section.name === "endpoints" || section.name === "endpoint";
  // Pages remount when the account, environment or item changes, so no stale data is shown.
  const pageKey = `${base.accountId}/${base.environment}/${section.name}`;

  return (
    <div className="stack">
      <EnvironmentBar environment={base.environment} />
      <div className="row spread">
        <div>
          {base.accountId !== null && (
            <p className="small">
              <Link href="/">All accounts</Link> / <AccountName accountId={base.accountId} />
            </p>
          )}
        </div>
        <EnvironmentSwitch base={base} section={section} />
      </div>
      <nav aria-label="Sections" className="section-nav">
        <Link href={endpointsPath(base)} aria-current={currentness(inWebhooks, section.name === "endpoints")}>
          Webhooks
        </Link>
        <Link href={eventsPath(base)} aria-current={currentness(!inWebhooks, section.name === "events")}>
          Events
        </Link>
      </nav>
      {section.name === "endpoints" && <EndpointsPage key={pageKey} base={base} scope={scope} />}
      {section.name === "endpoint" && (
        <EndpointPage
          key={`${pageKey}/${section.endpointId}`}
          base={base}
          scope={scope}
          endpointId={section.endpointId}
        />
      )}
      {section.name === "events" && <EventsPage key={pageKey} base={base} scope={scope} />}
      {section.name === "event" && (
        <EventPage key={`${pageKey}/${section.eventId}`} base={base} scope={scope} eventId={section.eventId} />
      )}
    </div>
  );
}

/** "page" on a section's list, "true" on one of its items (the link still leads to the list). */
function currentness(inSection: boolean, onList: boolean): "page" | "true" | undefined {
  if (!inSection) return undefined;
  return onList ? "page" : "true";
}
