import { ApiError } from "./api.ts";
import type { Endpoint, EndpointChanges } from "./api-types.ts";

export interface EndpointFormValues {
  url: string;
  description: string;
  /** Empty: every event type. */
  eventTypes: string[];
  enabled: boolean;
}

export type EndpointField = "url" | "description" | "event_types";

export const NEW_ENDPOINT_VALUES: EndpointFormValues = { url: "", description: "", eventTypes: [], enabled: true };

export function valuesOfEndpoint(endpoint: Endpoint): EndpointFormValues {
  return {
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.event_types ?? [],
    enabled: endpoint.enabled,
  };
}

export function changesOfValues(values: EndpointFormValues, options: { includeUrl: boolean }): EndpointChanges {
  return {
    ...(options.includeUrl ? { url: values.url.trim() } : {}),
    description: values.description,
    event_types: values.eventTypes.length > 0 ? values.eventTypes : null,
    enabled: values.enabled,
  };
}

/** A PATCH with only the fields the user edited. */
export function changesOfEdits(edited: Partial<EndpointFormValues>, options: { includeUrl: boolean }): EndpointChanges {
  const changes: EndpointChanges = {};
  if (edited.url !== undefined && options.includeUrl) changes.url = edited.url.trim();
  if (edited.description !== undefined) changes.description = edited.description;
  if (edited.eventTypes !== undefined) changes.event_types = edited.eventTypes.length > 0 ? edited.eventTypes : null;
  if (edited.enabled !== undefined) changes.enabled = edited.enabled;
  return changes;
}

/** Which field a refusal is about, so its message is shown under that field. */
export function fieldOfError(error: unknown): EndpointField | null {
  if (!(error instanceof ApiError)) return null;
  if (error.code === "url_rejected") return "url";
  const path = /^body\.(\w+)/.exec(error.message)?.[1];
  if (path === "url" || path === "description" || path === "event_types") return path;
  if (error.status === 409 && /\burl\b/i.test(error.message)) return "url";
  return null;
}

/** Loopback addresses, which TEST accepts and which `hookline listen` serves better. */
export function isLocalUrl(value: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(value.trim()).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (
    hostname === "localhost" ||
    hostname.endsWith(".localhost") ||
    hostname === "[::1]" ||
    hostname === "0.0.0.0" ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname)
  );
}
