import { useState } from "react";
import { api } from "../api.ts";
import type { Account, PortalLink } from "../api-types.ts";
import { CopyButton } from "../components/copy-button.tsx";
import { Link } from "../components/link.tsx";
import { ErrorText } from "../components/messages.tsx";
import { formatDateTime, formatRelative } from "../format.ts";
import { endpointsPath } from "../routes.ts";

export function AccountRow({ account, created }: { account: Account; created: string }) {
  const [link, setLink] = useState<PortalLink | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const headingId = `account-${account.id}`;

  async function createPortalLink() {
    setBusy(true);
    setError(null);
    try {
      setLink(await api.createPortalLink(account.id));
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <li className="card stack-tight" aria-labelledby={headingId}>
      <div className="row spread">
        <div>
          <h3 id={headingId}>{account.name}</h3>
          <p className="muted small">
            <span className="mono">{account.id}</span> · created {created}
          </p>
        </div>
        <div className="row">
          <Link className="button-link" href={endpointsPath({ accountId: account.id, environment: "test" })}>
            Open<span className="visually-hidden"> {account.name}</span>
          </Link>
          <button type="button" className="secondary" onClick={createPortalLink} disabled={busy}>
            Create portal link
          </button>
        </div>
      </div>
      <ErrorText error={error} />
      {link && (
        <div className="field">
          <label htmlFor={`portal-link-${account.id}`}>Portal link for {account.name}</label>
          <div className="row">
            <input
              id={`portal-link-${account.id}`}
              className="mono grow"
              readOnly
              value={link.url}
              onFocus={(event) => event.target.select()}
            />
            <CopyButton text={link.url} label="Copy link" />
          </div>
          <p className="muted small">
            Works once, until <time dateTime={link.expires_at}>{formatDateTime(link.expires_at)}</time> (
            {formatRelative(link.expires_at)}). Anyone with the link can open this account's webhooks.
          </p>
        </div>
      )}
    </li>
  );
}
