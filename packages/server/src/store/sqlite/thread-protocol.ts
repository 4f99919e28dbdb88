import { HooklineError } from "../../errors.ts";
import type { Store } from "../store.ts";

/**
 * Every Store method the thread serves, and whether it writes. Writes that arrive
 * together share one commit; reads are answered at once. The type makes a new
 * Store method fail to compile until it is listed here.
 */
export const STORE_METHODS: Record<Exclude<keyof Store, "close">, "read" | "write"> = {
  getSetting: "read",
  addSetting: "write",
  createSession: "write",
  findSession: "read",
  deleteSession: "write",
  createPortalLink: "write",
  usePortalLink: "write",
  createAccount: "write",
  listAccounts: "read",
  getAccount: "read",
  findKey: "read",
  createEndpoint: "write",
  getEndpoint: "read",
  listEndpoints: "read",
  countEndpoints: "read",
  updateEndpoint: "write",
  deleteEndpoint: "write",
  rotateSecret: "write",
  openListener: "write",
  holdListeners: "write",
  releaseListener: "write",
  listEndpointSecrets: "read",
  replaceEndpointSecrets: "write",
  pendingDisabledNotices: "read",
  clearDisabledNotices: "write",
  purgeEvents: "write",
  endpointStats: "read",
  recoverEndpoint: "write",
  ingest: "write",
  listEventTypes: "read",
  putEventType: "write",
  getEvent: "read",
  listEvents: "read",
  getDelivery: "read",
  listDeliveries: "read",
  listAttempts: "read",
  requestRetry: "write",
  advancePending: "write",
  settle: "write",
  releaseClaims: "write",
  nextDueAt: "read",
  metricsSnapshot: "read",
};

/** The messages between the main thread and the store's thread. */
export interface Request {
  id: number;
  method: keyof Store;
  args: unknown[];
}

export type Reply = { id: number; result: unknown; error?: undefined } | { id: number; error: WireError };

/** An error as plain data: structured cloning keeps only an Error's message, not its code or status. */
export interface WireError {
  code: string;
  status: number;
  message: string;
  headers: Record<string, string>;
}

export function toWire(error: unknown): WireError {
  if (error instanceof HooklineError) {
    return { code: error.code, status: error.status, message: error.message, headers: { ...error.headers } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "store_error", status: 500, message, headers: {} };
}

export function fromWire(error: WireError): HooklineError {
  return new HooklineError(error.code, error.message, { status: error.status, headers: error.headers });
}
