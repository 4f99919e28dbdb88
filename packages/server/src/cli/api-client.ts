import { request } from "undici";
import { HooklineError } from "../errors.ts";

export interface ClientOptions {
  apiUrl: string;
  apiKey: string | undefined;
}

/** Calls the Hookline API; an API error becomes a HooklineError with the server's code and message. */
export async function callApi(
  options: ClientOptions,
  method: "GET" | "POST" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
) {
  if (!options.apiKey) {
    throw new HooklineError("missing_api_key", "no API key: pass --api-key or set HOOKLINE_API_KEY");
  }
  const url = new URL(path, options.apiUrl);
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method,
      headers: {
        authorization: `Bearer ${options.apiKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new HooklineError(
      "api_unreachable",
      `cannot reach Hookline at ${options.apiUrl}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const text = await response.body.text();
  const json = text ? JSON.parse(text) : null;
  if (response.statusCode >= 400) {
    const error = json?.error ?? { code: "http_error", message: `HTTP ${response.statusCode}` };
    throw new HooklineError(error.code, error.message, { status: response.statusCode });
  }
  return json;
}
