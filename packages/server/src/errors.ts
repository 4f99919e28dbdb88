/**
 * The one error type Hookline raises on purpose. `code` is a stable machine
 * code that API clients may switch on; `status` is the HTTP status it maps to.
 */
export class HooklineError extends Error {
  readonly code: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: string,
    message: string,
    options: { status?: number; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "HooklineError";
    this.code = code;
    this.status = options.status ?? 500;
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what: string, id: string) =>
  new HooklineError("not_found", `No ${what} with id ${id}`, { status: 404 });

export const invalid = (message: string) => new HooklineError("invalid_request", message, { status: 400 });
