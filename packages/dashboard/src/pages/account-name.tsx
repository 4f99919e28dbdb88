import { api } from "../api.ts";
import { usePolledResource } from "../use-polled-resource.ts";

/** An account's name for the operator's breadcrumb (its id until the name arrives). */
export function AccountName({ accountId }: { accountId: string }) {
  const account = usePolledResource((signal) => api.getAccount(accountId, signal), null);
  return <strong>{account.data?.name ?? accountId}</strong>;
}
