import { api } from "../api.ts";
import { LoadMoreButton } from "../components/load-more-button.tsx";
import { LoadState } from "../components/messages.tsx";
import { useCursorList } from "../use-cursor-list.ts";
import { AccountRow } from "./account-row.tsx";
import { CreateAccountForm } from "./create-account-form.tsx";

/** The operator's start page: every account, and making new ones. */
export function AccountsPage() {
  const accounts = useCursorList((after, signal) => api.listAccounts(after, signal));

  return (
    <section className="stack">
      <h1>Accounts</h1>
      <CreateAccountForm onCreated={accounts.reload} />
      <h2>All accounts</h2>
      <LoadState loading={accounts.loading} error={accounts.items.length === 0 ? accounts.error : null}>
        {accounts.items.length === 0 ? (
          <p className="muted">No accounts yet. Create one for each customer that sends webhooks.</p>
        ) : (
          <ul className="card-list">
            {accounts.items.map((account) => (
              <AccountRow key={account.id} account={account} />
            ))}
          </ul>
        )}
      </LoadState>
      <LoadMoreButton list={accounts} />
    </section>
  );
}
