/** Why a webhook was refused. Stable strings: match on `code`, not on the message. */
export type WebhookErrorCode =
  | "missing_header"
  | "invalid_header"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "bad_signature"
  | "invalid_secret"
  | "invalid_body"
  | "body_too_large"
  | "body_already_parsed";

export class WebhookVerificationError extends Error {
  readonly code: WebhookErrorCode;

  constructor(code: WebhookErrorCode, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}
