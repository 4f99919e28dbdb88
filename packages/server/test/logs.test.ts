import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { apiClient, eventually } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { printedKeys, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { answer, startReceiver } from "./helpers/receiver.ts";

// Logs as an operator reads them: JSON lines naming the request and the delivery they are
// about, or readable lines when asked.

describe("logs", () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  async function serve(env: Record<string, string>): Promise<ServerProcess> {
    const dir = tempDir();
    const server = await spawnServer(dir.path, env);
    cleanup.push(dir.remove, async () => {
      server.child.kill("SIGTERM");
      await server.exited;
    });
    return server;
  }

  it("JSON lines carry the request id (the caller's, when it is a plain token) and each attempt's delivery id", async () => {
    const receiver = await startReceiver(answer(204));
    cleanup.push(() => receiver.close());
    const server = await serve({ HOOKLINE_LOG_LEVEL: "debug", HOOKLINE_LOG_FORMAT: "json" });
    const keys = printedKeys(server.stdout());
    const given = await fetch(`${server.url}/v1/endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.test}`, "content-type": "application/json", "x-request-id": "trace-42" },
      body: JSON.stringify({ url: receiver.url }),
    });
    assert.equal(given.status, 201);
    assert.equal(given.headers.get("x-request-id"), "trace-42");
    const odd = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "no spaces or\tcontrol" } });
    assert.match(odd.headers.get("x-request-id") ?? "", /^req_[A-Za-z0-9]{16}$/);

    const sent = await apiClient(server.url, keys.test).post("/v1/events", { type: "transfer.completed", data: {} });
    await receiver.waitFor(1);
    const lines = await linesOnceThere(server, "attempt");
    const request = lines.find((entry) => entry.msg === "request" && entry.reqId === "trace-42");
    assert.ok(request, "the request's own line");
    assert.equal(request.status, 201);
    const attempt = lines.find((entry) => entry.msg === "attempt");
    assert.equal(attempt.event_id, sent.body.id);
    assert.match(attempt.delivery_id, /^dlv_/);
    assert.equal(attempt.status_code, 204);
  });

  it("a listen client's oversized message closes its socket (1009) with one short line, not an error with a stack", async () => {
    const server = await serve({ HOOKLINE_LOG_LEVEL: "info", HOOKLINE_LOG_FORMAT: "json" });
    const keys = printedKeys(server.stdout());
    const socket = new WebSocket(`${server.url.replace(/^http/, "ws")}/v1/listen`, {
      headers: { authorization: `Bearer ${keys.test}` },
    });
    const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)));
    socket.on("error", () => {});
    await new Promise<void>((resolve) =>
      socket.on("message", (data) => {
        if (JSON.parse(String(data)).type === "ready") resolve();
      }),
    );
    socket.send("x".repeat(200 * 1024));
    assert.equal(await closed, 1009);
    const lines = await linesOnceThere(server, "a listen socket ended on a client error");
    const line = lines.find((entry) => entry.msg === "a listen socket ended on a client error");
    assert.equal(line.level, 30, "info, not error");
    assert.equal(line.code, "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH");
    assert.equal(line.err, undefined, "no error object with its stack");
    assert.ok(!lines.some((entry) => entry.level >= 50), "no error line");
  });

  it("pretty lines when asked", async () => {
    const server = await serve({ HOOKLINE_LOG_LEVEL: "debug", HOOKLINE_LOG_FORMAT: "pretty" });
    await fetch(`${server.url}/healthz`);
    await eventually(() => (/ DEBUG request .*status=200/.test(server.stderr()) ? true : undefined));
    assert.doesNotMatch(server.stderr(), /^\{/m, "no JSON lines");
  });
});

/** The server's JSON log lines, once one with `msg` is among them. */
function linesOnceThere(server: { stderr(): string }, msg: string): Promise<any[]> {
  return eventually(() => {
    const parsed = server
      .stderr()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    return parsed.some((entry) => entry.msg === msg) ? parsed : undefined;
  });
}
