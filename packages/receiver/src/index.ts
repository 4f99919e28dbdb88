export {
  createDeduplicator,
  type Deduplicator,
  type DeduplicatorOptions,
  memoryStore,
  type SeenStore,
} from "./dedup.ts";
export { type WebhookErrorCode, WebhookVerificationError } from "./errors.ts";
export {
  type HeadersLike,
  type RawBody,
  signWebhook,
  type VerifyOptions,
  verifyWebhook,
  type WebhookEvent,
} from "./verify.ts";
