import { type FormEvent, useState } from "react";
import { api } from "../api.ts";
import type { Account, PortalLink, PortalLinkOptions } from "../api-types.ts";
import { CopyButton } from "../components/copy-button.tsx";
import { ErrorText } from "../components/messages.tsx";
import { formatDateTime, formatRelative } from "../format.ts";
import { useAction } from "../use-action.ts";

interface Branding {
  productName: string;
  accentColor: string;
  logoUrl: string;
  validMinutes: string;
}

const NO_BRANDING: Branding = { productName: "", accentColor: "", logoUrl: "", validMinutes: "15" };

function optionsOf(branding: Branding): PortalLinkOptions {
  const theme = {
    ...(branding.productName.trim() ? { product_name: branding.productName.trim() } : {}),
    ...(branding.accentColor.trim() ? { accent_color: branding.accentColor.trim() } : {}),
    ...(branding.logoUrl.trim() ? { logo_url: branding.logoUrl.trim() } : {}),
  };
  const minutes = Number(branding.validMinutes);
  return {
    ...(Number.isFinite(minutes) && minutes > 0 ? { expires_in_s: Math.round(minutes * 60) } : {}),
    ...(Object.keys(theme).length > 0 ? { theme } : {}),
  };
}

/** A one-time link that opens this account's webhooks in the portal, optionally branded. */
export function PortalLinkCreator({ account }: { account: Account }) {
  const [branding, setBranding] = useState(NO_BRANDING);
  const [link, setLink] = useState<PortalLink | null>(null);
  const create = useAction(async () => {
    setLink(await api.createPortalLink(account.id, optionsOf(branding)));
  });
  const id = (name: string) => `portal-${name}-${account.id}`;
  const change = (update: Partial<Branding>) => setBranding({ ...branding, ...update });

  function submit(event: FormEvent) {
    event.preventDefault();
    void create.run();
  }

  return (
    <form className="stack-tight" onSubmit={submit}>
      <details>
        <summary>Portal link options</summary>
        <div className="options-grid">
          <div className="field">
            <label htmlFor={id("product-name")}>Product name</label>
            <input
              id={id("product-name")}
              maxLength={100}
              value={branding.productName}
              onChange={(event) => change({ productName: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={id("accent")}>Accent colour</label>
            <input
              id={id("accent")}
              placeholder="#0a7cff"
              pattern="#[0-9a-fA-F]{6}"
              value={branding.accentColor}
              onChange={(event) => change({ accentColor: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={id("logo")}>Logo URL</label>
            <input
              id={id("logo")}
              type="url"
              placeholder="https://…/logo.svg"
              value={branding.logoUrl}
              onChange={(event) => change({ logoUrl: event.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={id("minutes")}>Valid for (minutes)</label>
            <input
              id={id("minutes")}
              type="number"
              min={1}
              max={1440}
              value={branding.validMinutes}
              onChange={(event) => change({ validMinutes: event.target.value })}
            />
          </div>
        </div>
      </details>
      <div>
        <button type="submit" className="secondary" disabled={create.busy}>
          Create portal link
        </button>
      </div>
      <ErrorText error={create.error} />
      {link && (
        <div className="field">
          <label htmlFor={id("url")}>Portal link for {account.name}</label>
          <div className="row">
            <input
              id={id("url")}
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
    </form>
  );
}
