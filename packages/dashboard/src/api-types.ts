/**
 * The API's answers as the dashboard reads them. Shapes the API's schemas define are
 * taken from them (packages/client/src/schemas.ts, types only: nothing of it is
 * bundled), so the dashboard cannot drift from what the server sends.
 */
import type {
  Attempt,
  Delivery,
  Endpoint,
  EndpointStats,
  HooklineEvent,
  PortalLink,
  PortalLinkRequest,
  Session,
  UpdateEndpointRequest,
} from "../../client/src/schemas.ts";

export type { Attempt, Delivery, Endpoint, EndpointStats, HooklineEvent, PortalLink, Session };

export type Environment = Endpoint["environment"];

export type DeliveryStatus = Delivery["status"];

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = [
  "pending",
  "delivering",
  "succeeded",
  "failed",
  "cancelled",
];

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface Account {
  id: string;
  name: string;
  created_at: string;
}

export interface CreatedAccount extends Account {
  keys: { test: string; live: string };
}

export type PortalLinkOptions = PortalLinkRequest;
export type Theme = NonNullable<Session["theme"]>;

export type EndpointChanges = Pick<UpdateEndpointRequest, "url" | "description" | "event_types" | "enabled">;

export interface EventType {
  name: string;
  description: string;
  built_in: boolean;
}

export type StatsWindow = EndpointStats["windows"]["24h"];
export type StatsBucket = EndpointStats["series"]["24h"][number];
export type LastAttempt = NonNullable<EndpointStats["last_attempt"]>;

export interface EventFilters {
  type: string;
  delivery_status: DeliveryStatus | "";
  since: string;
  until: string;
}
