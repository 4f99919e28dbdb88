export { type ClientOptions, Hookline, HooklineApiError } from "./client.ts";
export type {
  Attempt,
  CreateEndpointRequest,
  CreateEventRequest,
  Delivery,
  Endpoint,
  HooklineEvent,
  Page,
  UpdateEndpointRequest,
} from "./schemas.ts";
