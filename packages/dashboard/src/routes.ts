import type { Environment } from "./api-types.ts";

/** Where an account's pages live: `/accounts/{id}/{env}` for an admin, `/portal/{env}` for a portal session. */
export interface AccountBase {
  accountId: string | null;
  environment: Environment;
}

export type AccountSection =
  | { name: "endpoints" }
  | { name: "endpoint"; endpointId: string }
  | { name: "events" }
  | { name: "event"; eventId: string };

export type Route =
  | { page: "login" }
  | { page: "accounts" }
  | { page: "portal-entry" }
  | { page: "account"; base: AccountBase; section: AccountSection }
  | { page: "not-found" };

const isEnvironment = (value: string | undefined): value is Environment => value === "test" || value === "live";

function parseSection(parts: string[]): AccountSection | null {
  const [section, id, ...extra] = parts;
  if (extra.length > 0) return null;
  if (section === undefined || section === "endpoints")
    return id ? { name: "endpoint", endpointId: id } : { name: "endpoints" };
  if (section === "events") return id ? { name: "event", eventId: id } : { name: "events" };
  return null;
}

export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split("/")
    .filter((part) => part !== "")
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  const [first, second, third] = parts;
  if (first === undefined) return { page: "accounts" };
  if (first === "login" && parts.length === 1) return { page: "login" };
  if (first === "portal" && second === undefined) return { page: "portal-entry" };
  if (first === "portal" && isEnvironment(second)) {
    const section = parseSection(parts.slice(2));
    if (section) return { page: "account", base: { accountId: null, environment: second }, section };
  }
  if (first === "accounts" && second !== undefined && isEnvironment(third)) {
    const section = parseSection(parts.slice(3));
    if (section) return { page: "account", base: { accountId: second, environment: third }, section };
  }
  return { page: "not-found" };
}

export function basePath(base: AccountBase): string {
  return base.accountId === null
    ? `/portal/${base.environment}`
    : `/accounts/${encodeURIComponent(base.accountId)}/${base.environment}`;
}

export const endpointsPath = (base: AccountBase) => `${basePath(base)}/endpoints`;
export const endpointPath = (base: AccountBase, id: string) => `${endpointsPath(base)}/${encodeURIComponent(id)}`;
export const eventsPath = (base: AccountBase) => `${basePath(base)}/events`;
export const eventPath = (base: AccountBase, id: string) => `${eventsPath(base)}/${encodeURIComponent(id)}`;

/** The same section in the other environment; ids belong to one environment, so a detail page goes to its list. */
export function sectionPathIn(base: AccountBase, section: AccountSection): string {
  return section.name === "events" || section.name === "event" ? eventsPath(base) : endpointsPath(base);
}
