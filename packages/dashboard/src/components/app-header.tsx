import { useContext, useState } from "react";
import { SessionContext } from "../session.ts";
import type { AppliedTheme } from "../theme.ts";
import { Link } from "./link.tsx";
import { ErrorText } from "./messages.tsx";

export function AppHeader({ theme }: { theme: AppliedTheme }) {
  const controls = useContext(SessionContext);
  const [logOutError, setLogOutError] = useState<Error | null>(null);
  const isAdmin = controls?.session.kind === "admin";

  async function logOut() {
    setLogOutError(null);
    try {
      await controls?.logOut();
    } catch (error) {
      setLogOutError(error as Error);
    }
  }

  const brand = (
    <>
      {theme.logoUrl && <img className="brand-logo" src={theme.logoUrl} alt={theme.productName} />}
      {/* The logo's alt text already names the product for screen readers. */}
      <span aria-hidden={theme.logoUrl ? true : undefined}>{theme.productName}</span>
    </>
  );

  return (
    <header className="app-header">
      <div className="container app-header-row">
        {isAdmin ? (
          <Link className="brand" href="/">
            {brand}
          </Link>
        ) : (
          <span className="brand">{brand}</span>
        )}
        {controls && (
          <div className="app-header-actions">
            {controls.session.kind === "account" && controls.session.account && (
              <span className="muted">{controls.session.account.name}</span>
            )}
            <button type="button" className="secondary" onClick={logOut}>
              Log out
            </button>
          </div>
        )}
      </div>
      {logOutError && (
        <div className="container">
          <ErrorText error={logOutError} />
        </div>
      )}
    </header>
  );
}
