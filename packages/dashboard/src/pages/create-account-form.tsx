import { type FormEvent, useState } from "react";
import { api } from "../api.ts";
import type { CreatedAccount } from "../api-types.ts";
import { CopyButton } from "../components/copy-button.tsx";
import { ErrorText, Notice } from "../components/messages.tsx";

export function CreateAccountForm({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [created, setCreated] = useState<CreatedAccount | null>(null);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setCreated(await api.createAccount(name.trim()));
      setName("");
      onCreated();
    } catch (failure) {
      setError(failure as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="panel stack">
      <h2>Create account</h2>
      <form className="inline-form" onSubmit={create}>
        <div className="field">
          <label htmlFor="account-name">Account name</label>
          <input
            id="account-name"
            required
            maxLength={200}
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-describedby={error ? "account-name-error" : undefined}
            aria-invalid={error ? true : undefined}
          />
        </div>
        <button type="submit" disabled={busy}>
          Create account
        </button>
      </form>
      <ErrorText error={error} id="account-name-error" />
      {created && <CreatedAccountKeys account={created} onDismiss={() => setCreated(null)} />}
    </div>
  );
}

function CreatedAccountKeys({ account, onDismiss }: { account: CreatedAccount; onDismiss: () => void }) {
  return (
    <Notice tone="warning">
      <p>
        <strong>Account “{account.name}” created.</strong> Copy its keys now: they will not be shown again.
      </p>
      <KeyField label="TEST key" value={account.keys.test} />
      <KeyField label="LIVE key" value={account.keys.live} />
      <p>
        <button type="button" className="secondary" onClick={onDismiss}>
          I have saved the keys
        </button>
      </p>
    </Notice>
  );
}

function KeyField({ label, value }: { label: string; value: string }) {
  const id = `key-${label.replace(/\W+/g, "-").toLowerCase()}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} className="mono grow" readOnly value={value} onFocus={(event) => event.target.select()} />
        <CopyButton text={value} label={`Copy ${label}`} />
      </div>
    </div>
  );
}
