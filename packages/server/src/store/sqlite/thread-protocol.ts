import { HooklineError } from "../../errors.ts";
import type { Store } from "../store.ts";

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
