import type { Account } from "../api-types.ts";
import { Link } from "../components/link.tsx";
import { formatDateTime } from "../format.ts";
import { endpointsPath } from "../routes.ts";
import { PortalLinkCreator } from "./portal-link-creator.tsx";

export function AccountRow({ account }: { account: Account }) {
  const headingId = `account-${account.id}`;
  return (
    <li className="card stack-tight" aria-labelledby={headingId}>
      <div className="row spread">
        <div>
          <h3 id={headingId}>{account.name}</h3>
          <p className="muted small">
            <span className="mono">{account.id}</span> · created {formatDateTime(account.created_at)}
          </p>
        </div>
        <Link className="button-link" href={endpointsPath({ accountId: account.id, environment: "test" })}>
          Open<span className="visually-hidden"> {account.name}</span>
        </Link>
      </div>
      <PortalLinkCreator account={account} />
    </li>
  );
}
