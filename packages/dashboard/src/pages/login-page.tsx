import { type FormEvent, useState } from "react";
import { api } from "../api.ts";
import type { Session } from "../api-types.ts";
import { ErrorText } from "../components/messages.tsx";
import { navigate } from "../router.ts";

export function LoginPage({ onSession }: { onSession: (session: Session) => void }) {
  const [adminKey, setAdminKey] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function logIn(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api.logInWithAdminKey(adminKey.trim());
      onSession(session);
      navigate("/", { replace: true });
    } catch (failure) {
      setError(failure as Error);
      setBusy(false);
    }
  }

  return (
    <section className="narrow">
      <h1>Log in</h1>
      <p className="muted">
        Operators log in with the admin key that <code>hookline serve</code> printed on its first start.
      </p>
      <form className="stack" onSubmit={logIn}>
        <div className="field">
          <label htmlFor="admin-key">Admin key</label>
          <input
            id="admin-key"
            type="password"
            autoComplete="current-password"
            required
            value={adminKey}
            onChange={(event) => setAdminKey(event.target.value)}
            aria-describedby={error ? "login-error" : undefined}
            aria-invalid={error ? true : undefined}
          />
          <ErrorText error={error} id="login-error" />
        </div>
        <div>
          <button type="submit" disabled={busy}>
            {busy ? "Logging in…" : "Log in"}
          </button>
        </div>
      </form>
    </section>
  );
}
