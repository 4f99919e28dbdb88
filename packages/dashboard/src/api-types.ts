/**
 * The API's answers as the dashboard reads them (docs/api.md). Written out here because
 * the dashboard talks only to the public HTTP API and needs the session and stats shapes too.
 */

export type Environment = "test" | "live";

export type DeliveryStatus = "pending" | "delivering" | "succeeded" | "failed" | "cancelled";

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

export interface Theme {
  product_name?: string | null;
  accent_color?: string | null;
  logo_url?: string | null;
}

export interface Session {
  kind: "admin" | "account";
  account: { id: string; name: string } | null;
  csrf_token: string;
  expires_at: string;
  theme: Theme | null;
}

export interface Account {
  id: string;
  name: string;
  created_at: string;
}

export interface CreatedAccount extends Account {
  keys: { test: string; live: string };
}

export interface PortalLinkOptions {
  expires_in_s?: number;
  theme?: { product_name?: string; accent_color?: string; logo_url?: string };
}

export interface PortalLink {
  url: string;
  expires_at: string;
}

export interface Endpoint {
  id: string;
  environment: Environment;
  kind: "http" | "listen";
  url: string;
  description: string;
  event_types: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  secret: string;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointChanges {
  url?: string;
  description?: string;
  event_types?: string[] | null;
  enabled?: boolean;
}

export interface EventType {
  name: string;
  description: string;
  built_in: boolean;
}

export interface HooklineEvent {
  id: string;
  type: string;
  created_at: string;
  environment: Environment;
  data: Record<string, unknown>;
}

export interface Delivery {
  id: string;
  event_id: string;
  endpoint_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  scheduled_attempts: number;
  max_scheduled_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface Attempt {
  id: string;
  delivery_id: string;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_snippet: string | null;
  trigger: "scheduled" | "manual";
}

export interface StatsWindow {
  attempts: number;
  succeeded: number;
  success_rate: number | null;
  avg_duration_ms: number | null;
}

export interface StatsBucket {
  start: string;
  attempts: number;
  succeeded: number;
  avg_duration_ms: number | null;
}

export interface LastAttempt {
  at: string;
  ok: boolean;
  status_code: number | null;
  error: string | null;
}

export interface EndpointStats {
  endpoint_id: string;
  counts: { pending: number; failed: number };
  /** Counts stop at this number (counting further would cost the store too much). */
  counts_capped_at: number;
  windows: { "24h": StatsWindow; "7d": StatsWindow };
  series: { "24h": StatsBucket[]; "7d": StatsBucket[] };
  last_attempt: LastAttempt | null;
}

export interface EventFilters {
  type: string;
  delivery_status: DeliveryStatus | "";
  since: string;
  until: string;
}
