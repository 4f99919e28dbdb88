import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { notify, serveRpc } from "./ipc.ts";

/**
 * The ingest ceiling: a bare node:http server that does the least an ingest
 * API must do — read and parse the JSON body, build the event it would store
 * and answer 202 with it — and nothing else (no validation, auth, storage or
 * fsync). Hookline's ingest figure is read against this one.
 */

let seq = 0;

function toEvent(input: { type?: unknown; data?: unknown }, now: string): string {
  return JSON.stringify({
    id: `evt_${(seq++).toString(36)}`,
    type: input.type,
    created_at: now,
    environment: "test",
    data: input.data,
  });
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
  if (req.url === "/v1/events") return reply(res, 202, toEvent(parsed, now));
  if (req.url === "/v1/events/batch" && Array.isArray(parsed?.events) && parsed.events.length <= 1000) {
    const events = (parsed.events as { type?: unknown; data?: unknown }[]).map((event) => toEvent(event, now));
    return reply(res, 202, `{"data":[${events.join(",")}]}`);
  }
  return reply(res, 400, '{"error":"bad request"}');
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
});

serveRpc({}, () => server.closeAllConnections());

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  notify("ready", { url: `http://127.0.0.1:${port}` });
});
