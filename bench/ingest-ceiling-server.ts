import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { hashKey } from "../packages/server/src/ids.ts";
import { openDatabase } from "../packages/server/src/store/sqlite/database.ts";
import { createSqliteStore } from "../packages/server/src/store/sqlite/sqlite-store.ts";
import type { IngestRequest } from "../packages/server/src/store/store.ts";
import { notify, serveRpc } from "./ipc.ts";

/**
 * The ingest ceiling: a bare node:http server that does the least an ingest
 * API must do — read and parse the JSON body, build the event it would store
 * and answer 202 with it — and nothing else (no validation, auth, storage or
 * fsync). Hookline's ingest figure is read against this one.
 *
 * With `--relay <receiver origin>` it is also the end-to-end ceiling (S4): after
 * the 202, each event of POST /v1/events is POSTed at once to
 * `<receiver>/ok/<type>` with its id as webhook-id, by undici over a keep-alive
 * agent like Hookline's: the same two hops as Hookline, with no store, no
 * queue and no signature in between.
 *
 * With `--durable <dir>`, either keeps Hookline's durability and adds nothing
 * else: each event is inserted into SQLite (the server's own pragmas: WAL,
 * synchronous=FULL) before its 202, with one commit for the events parsed in one
 * turn of the event loop, on this one thread; a relay's answers from the receiver
 * are inserted in the next commit. No ids, indexes, queue, retries or second
 * thread: the least any durable ingest or relay must do (the durable ceilings).
 *
 * With `--store <dir>` (ingest only), the events go through Hookline's own embedded
 * store instead (`store.ingest`: its ids, schema and indexes, synchronous=FULL), one
 * call per event-loop turn on this one thread, and the 202 carries the stored event:
 * the least Hookline's data needs, with no auth, validation, framework or second
 * thread in front of it (the store ceiling).
 */

const { values } = parseArgs({
  options: { relay: { type: "string" }, durable: { type: "string" }, store: { type: "string" } },
});
const relay = values.relay ?? null;
if (relay && values.store) throw new Error("--store is for ingest only, not with --relay");
const journal = values.durable ? openJournal(values.durable) : values.store ? await openStore(values.store) : null;
const relayAgent = relay ? new Agent({ keepAliveTimeout: 30_000 }) : null;
const relayErrors: Record<string, number> = {};
let relayed = 0;

let seq = 0;

interface EventInput {
  type?: unknown;
  data?: unknown;
}

/** Where events are kept before their 202: the durable ceiling's table, or Hookline's store. */
interface Journal {
  accept(inputs: EventInput[], now: string, then: (events: string[]) => void): void;
  answered(id: string, status: number): void;
}

function toEvent(input: EventInput, now: string): string {
  return JSON.stringify({
    id: `evt_${(seq++).toString(36)}`,
    type: input.type,
    created_at: now,
    environment: "test",
    data: input.data,
  });
}

function forward(type: unknown, event: string) {
  if (!relay || !relayAgent) return;
  const id = event.slice(7, event.indexOf('"', 7));
  request(`${relay}/ok/${String(type)}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "Hookline-bench-relay/0",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
      "webhook-signature": `v1,${"A".repeat(43)}=`,
    },
    body: event,
    dispatcher: relayAgent,
  }).then(
    async (response) => {
      await response.body.text();
      if (response.statusCode >= 300)
        relayErrors[`http_${response.statusCode}`] = (relayErrors[`http_${response.statusCode}`] ?? 0) + 1;
      else relayed++;
      journal?.answered(id, response.statusCode);
    },
    (error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
      relayErrors[code] = (relayErrors[code] ?? 0) + 1;
    },
  );
}

function reply(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
}

function handle(req: IncomingMessage, res: ServerResponse, raw: string) {
  if (req.method !== "POST" || !req.headers.authorization) return reply(res, 404, '{"error":"not found"}');
  let parsed: any;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return reply(res, 400, '{"error":"invalid json"}');
  }
  const now = new Date().toISOString();
  // Durable: the 202 (and the relay's forward) wait for the commit that stores the events.
  const keep = (inputs: EventInput[], then: (events: string[]) => void) =>
    journal ? journal.accept(inputs, now, then) : then(inputs.map((input) => toEvent(input, now)));
  if (req.url === "/v1/events") {
    return keep([parsed], ([event]) => {
      reply(res, 202, event as string);
      forward(parsed?.type, event as string);
    });
  }
  if (req.url === "/v1/events/batch" && Array.isArray(parsed?.events) && parsed.events.length <= 1000) {
    return keep(parsed.events, (events) => reply(res, 202, `{"data":[${events.join(",")}]}`));
  }
  return reply(res, 400, '{"error":"bad request"}');
}

/** The durable ceiling's store: events before their 202, the relay's answers after; one commit per event-loop turn. */
function openJournal(dir: string): Journal {
  const db = openDatabase(dir);
  db.exec(`CREATE TABLE ceiling_events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT;
    CREATE TABLE relay_answers (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, status INTEGER NOT NULL) STRICT`);
  const insertEvent = db.prepare("INSERT INTO ceiling_events (body) VALUES (?)");
  const insertAnswer = db.prepare("INSERT INTO relay_answers (event_id, status) VALUES (?, ?)");
  let events: { bodies: string[]; then: (events: string[]) => void }[] = [];
  let answers: [string, number][] = [];
  let queued = false;
  const commit = () => {
    queued = false;
    const [batch, done] = [events, answers];
    events = [];
    answers = [];
    db.exec("BEGIN");
    for (const { bodies } of batch) for (const body of bodies) insertEvent.run(body);
    for (const [id, status] of done) insertAnswer.run(id, status);
    db.exec("COMMIT");
    for (const { bodies, then } of batch) then(bodies);
  };
  const queue = () => {
    if (!queued) setImmediate(commit);
    queued = true;
  };
  return {
    accept(inputs, now, then) {
      events.push({ bodies: inputs.map((input) => toEvent(input, now)), then });
      queue();
    },
    answered(id: string, status: number) {
      answers.push([id, status]);
      queue();
    },
  };
}

/** The store ceiling: each turn's requests go to Hookline's embedded store as one `ingest` call (one commit). */
async function openStore(dir: string): Promise<Journal> {
  const store = createSqliteStore(dir);
  const account = await store.createAccount("ceiling", { test: hashKey("t"), live: hashKey("l") }, Date.now());
  const scope = { accountId: account.id, environment: "test" as const };
  let waiting: { request: IngestRequest; then: (events: string[]) => void }[] = [];
  const commit = async () => {
    const batch = waiting;
    waiting = [];
    const { results } = await store.ingest(
      batch.map((item) => item.request),
      Date.now(),
      null,
    );
    for (const [i, { then }] of batch.entries()) {
      const result = results[i];
      if (!result?.ok) throw new Error("the store ceiling's ingest failed");
      then(result.events.map(({ event }) => event.body));
    }
  };
  return {
    accept(inputs, _now, then) {
      const events = inputs.map((input) => ({
        type: String(input.type),
        dataJson: JSON.stringify(input.data),
        idempotencyKey: null,
      }));
      waiting.push({ request: { scope, events }, then });
      if (waiting.length === 1) setImmediate(() => void commit());
    },
    answered() {},
  };
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
});

export interface CeilingServerApi {
  /** What the relay sent on: answered 2xx, and failures by kind. */
  relayStats(params: null): { relayed: number; errors: Record<string, number> };
}

serveRpc<CeilingServerApi>({ relayStats: () => ({ relayed, errors: relayErrors }) }, () =>
  server.closeAllConnections(),
);

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  notify("ready", { url: `http://127.0.0.1:${port}` });
});
