import { Command, Option } from "commander";
import { HooklineError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { type ClientOptions, callApi } from "./api-client.ts";
import { listen } from "./listen.ts";

/** What the CLI needs from the process; only main.ts provides it. */
export interface CliIo {
  env: Record<string, string | undefined>;
  print(text: string): void;
  serve(options: ServeOptions): Promise<void>;
  /** Brings the store's schema up to date and exits. */
  migrate(options: ServeOptions): Promise<void>;
  /** Calls `stop` on Ctrl-C or SIGTERM (long-running commands). */
  onInterrupt(stop: () => void): void;
}

export interface ServeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
  config?: string;
  databaseUrl?: string;
  role?: string;
}

/** Builds the `hookline` command tree. Every command has --help. */
export function buildProgram(io: CliIo): Command {
  const program = new Command("hookline")
    .description("Self-hostable webhook delivery: accept events, sign them, deliver them, retry until acknowledged.")
    .version(VERSION)
    .showHelpAfterError();

  program
    .command("serve")
    .description("start the API and the delivery workers (embedded store, or PostgreSQL with --database-url)")
    .option("--host <host>", "address to listen on (env HOOKLINE_HOST, default 127.0.0.1)")
    .option("--port <port>", "port to listen on (env HOOKLINE_PORT, default 8080)")
    .option("--data-dir <dir>", "where the embedded store lives (env HOOKLINE_DATA_DIR, default ./.hookline)")
    .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
    .option("--database-url <url>", "PostgreSQL instead of the embedded store (env DATABASE_URL)")
    .addOption(
      new Option(
        "--role <role>",
        "all: API and delivery; api or worker: one part, for many nodes on PostgreSQL (env HOOKLINE_ROLE)",
      ).choices(["all", "api", "worker"]),
    )
    .action((options) => io.serve(options));

  program
    .command("migrate")
    .description("apply the store's migrations and exit (serve does it too; safe while other nodes start)")
    .option("--data-dir <dir>", "the embedded store (env HOOKLINE_DATA_DIR, default ./.hookline)")
    .option("--config <file>", "JSON config file (default ./hookline.config.json when it exists)")
    .option("--database-url <url>", "PostgreSQL (env DATABASE_URL)")
    .action((options) => io.migrate(options));

  const client = (command: Command) =>
    command
      .option("--api-url <url>", "Hookline API (env HOOKLINE_API_URL, default http://127.0.0.1:8080)")
      .option("--api-key <key>", "API key (env HOOKLINE_API_KEY)");
  const clientOptions = (options: { apiUrl?: string; apiKey?: string }): ClientOptions => ({
    apiUrl: options.apiUrl ?? io.env.HOOKLINE_API_URL ?? "http://127.0.0.1:8080",
    apiKey: options.apiKey ?? io.env.HOOKLINE_API_KEY,
  });
  const show = (value: unknown) => io.print(JSON.stringify(value, null, 2));

  const accounts = program.command("accounts").description("manage accounts (admin key)");
  client(accounts.command("create").description("create an account; prints its TEST and LIVE keys once"))
    .requiredOption("--name <name>", "account name")
    .action(async (options) =>
      show(await callApi(clientOptions(options), "POST", "/v1/accounts", { name: options.name })),
    );
  client(accounts.command("list").description("list accounts")).action(async (options) =>
    show(await callApi(clientOptions(options), "GET", "/v1/accounts")),
  );

  const events = program.command("events").description("send and inspect events (account key)");
  client(events.command("send").description("send one event; prints it once it is stored"))
    .requiredOption("--type <type>", "event type, e.g. transfer.completed")
    .option("--data <json>", "event data, a JSON object", "{}")
    .option("--idempotency-key <key>", "a repeat with the same key returns the first event")
    .action(async (options) => {
      const body = {
        type: options.type,
        data: parseJsonObject(options.data, "--data"),
        idempotency_key: options.idempotencyKey,
      };
      show(await callApi(clientOptions(options), "POST", "/v1/events", body));
    });
  client(events.command("list").description("list recent events, newest first"))
    .option("--type <type>", "only this event type")
    .option("--limit <n>", "how many", "20")
    .action(async (options) => {
      const query = new URLSearchParams({ limit: options.limit, ...(options.type ? { type: options.type } : {}) });
      show(await callApi(clientOptions(options), "GET", `/v1/events?${query}`));
    });
  client(
    events
      .command("deliveries")
      .description("show an event's deliveries, a page at a time")
      .argument("<event-id>")
      .option("--limit <n>", "how many", "250")
      .option("--after <cursor>", "the next_cursor of the page before"),
  ).action(async (id, options) => {
    const query = new URLSearchParams({ limit: options.limit, ...(options.after ? { after: options.after } : {}) });
    show(await callApi(clientOptions(options), "GET", `/v1/events/${encodeURIComponent(id)}/deliveries?${query}`));
  });

  client(
    program
      .command("trigger")
      .description("send a TEST event of a catalog type with its sample data (see `hookline event-types list`)")
      .argument("<type>", "event type, e.g. transfer.completed"),
  )
    .option("--data <json>", "the event's data instead of the catalog's sample, a JSON object")
    .action(async (type: string, options) => {
      const api = clientOptions(options);
      if (api.apiKey && !api.apiKey.startsWith("hl_test_")) {
        throw new HooklineError("test_key_required", "trigger sends TEST events: use a TEST key (hl_test_…)");
      }
      const data = options.data
        ? parseJsonObject(options.data, "--data")
        : (await callApi(api, "GET", `/v1/event-types/${encodeURIComponent(type)}`)).example;
      show(await callApi(api, "POST", "/v1/events", { type, data }));
    });
  client(
    program
      .command("event-types")
      .description("the event-type catalog: built-in examples and the operator's own")
      .command("list")
      .description("list event types with their sample data"),
  ).action(async (options) => show(await callApi(clientOptions(options), "GET", "/v1/event-types")));

  const endpoints = program.command("endpoints").description("manage webhook endpoints (account key)");
  client(endpoints.command("list").description("list endpoints")).action(async (options) =>
    show(await callApi(clientOptions(options), "GET", "/v1/endpoints")),
  );
  client(endpoints.command("create").description("add an endpoint; prints its signing secret"))
    .requiredOption("--url <url>", "where to POST events")
    .option("--description <text>", "a note for people")
    .option("--event-types <types>", "comma-separated event types (default: all)")
    .option("--retry-schedule <delays>", "comma-separated delays, e.g. 5s,1m,1h (default: hourly for 72 h)")
    .action(async (options) => {
      const body = {
        url: options.url,
        description: options.description,
        event_types: options.eventTypes?.split(","),
        retry_schedule: options.retrySchedule?.split(","),
      };
      show(await callApi(clientOptions(options), "POST", "/v1/endpoints", body));
    });
  client(endpoints.command("delete").description("delete an endpoint").argument("<endpoint-id>")).action(
    async (id, options) => {
      await callApi(clientOptions(options), "DELETE", `/v1/endpoints/${encodeURIComponent(id)}`);
      io.print(`deleted ${id}`);
    },
  );

  client(
    program
      .command("listen")
      .description("relay this account's TEST events to a local server, no tunnel needed (TEST key)"),
  )
    .option("--forward-to <url>", "the local URL that gets every event, e.g. http://localhost:3000/webhooks")
    .option(
      "--forward <rule>",
      "<type pattern>=<url>, e.g. 'transfer.*=http://localhost:3000/a'; repeat it, the first match wins",
      (rule: string, rules: string[]) => [...rules, rule],
      [] as string[],
    )
    .option("--events <types>", "only these event types, comma-separated")
    .action(async (options) => {
      const forward = [...options.forward, ...(options.forwardTo ? [options.forwardTo] : [])];
      await listen({ ...clientOptions(options), forward, events: options.events }, io);
    });

  const deliveries = program.command("deliveries").description("inspect and retry deliveries (account key)");
  client(
    deliveries
      .command("retry")
      .description("attempt a delivery now, or with --pending every pending one (TEST: walk the schedule in seconds)")
      .argument("[delivery-id]"),
  )
    .option("--pending", "every pending delivery of the key's environment (TEST key only)")
    .action(async (id: string | undefined, options) => {
      if (options.pending === Boolean(id)) {
        throw new HooklineError("invalid_argument", "give a delivery id or --pending (not both)");
      }
      show(
        id
          ? await callApi(clientOptions(options), "POST", `/v1/deliveries/${encodeURIComponent(id)}/retry`)
          : await callApi(clientOptions(options), "POST", "/v1/deliveries/retry", { status: "pending" }),
      );
    });
  client(deliveries.command("attempts").description("show a delivery's attempt log").argument("<delivery-id>")).action(
    async (id, options) =>
      show(await callApi(clientOptions(options), "GET", `/v1/deliveries/${encodeURIComponent(id)}/attempts`)),
  );

  return program;
}

function parseJsonObject(text: string, flag: string): unknown {
  try {
    const value = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
  } catch {}
  throw new HooklineError("invalid_argument", `${flag} must be a JSON object, e.g. '{"amount":100}'`);
}
