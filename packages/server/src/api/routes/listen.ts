import { HooklineError } from "../../errors.ts";
import { newSigningSecret } from "../../ids.ts";
import { scopeOf } from "../auth.ts";
import type { Api, ApiContext } from "../context.ts";
import { errorResponse, noContent } from "../openapi.ts";
import { ListenQuery } from "../schemas.ts";

/** A listener that answers no ping for this long is gone (a laptop that went to sleep). */
const PING_EVERY_MS = 15_000;
/**
 * A node holds its listen endpoints for this long at a time, renewed at a third of it
 * while their sockets are open; a node that dies releases them when it runs out.
 */
const HOLD_MS = 60_000;

/**
 * `GET /v1/listen` (WebSocket), for `hookline listen`: the account's TEST events
 * are relayed to a developer's machine. The session's listen endpoint is an
 * endpoint like any other (attempts, retries, the attempt log), whose
 * deliveries go over this socket instead of to a URL.
 *
 * Messages: the server sends `{type: "ready", endpoint_id, secret, events}` once,
 * then `{type: "attempt", attempt_id, headers, body}`; the CLI answers each with
 * `{type: "result", attempt_id, status, body}` or `{type: "result", attempt_id, error}`.
 */
export function registerListenRoutes(app: Api, ctx: ApiContext): void {
  const renewal = setInterval(() => {
    const held = ctx.listeners.endpointIds();
    if (held.length === 0) return;
    const now = ctx.now();
    ctx.store.holdListeners(held, { node: ctx.node, until: now + HOLD_MS }, now).catch((error) => {
      app.log.error({ err: error }, "renewing this node's hold on its listen endpoints failed");
    });
  }, HOLD_MS / 3);
  renewal.unref();
  app.addHook("onClose", async () => clearInterval(renewal));

  app.get(
    "/v1/listen",
    {
      websocket: true,
      config: { auth: "account" },
      schema: {
        summary: "Relay TEST events to `hookline listen` (WebSocket)",
        description:
          'Upgrades to a WebSocket; TEST keys only. The session\'s listen endpoint (one per account, made by the first call) receives the events of the listed types (`events=a,b`; all by default). The server sends `{type: "ready", endpoint_id, secret, events}` once, then `{type: "attempt", attempt_id, headers, body}` for each attempt; the client answers each with `{type: "result", attempt_id, status, body}` or `{type: "result", attempt_id, error}`.',
        querystring: ListenQuery,
        response: {
          101: noContent("Switching Protocols: the connection is now the listen session's WebSocket"),
          403: errorResponse("`test_key_required`: a LIVE key, or `forbidden`/`wrong_key`"),
        },
      },
      // Checked before the upgrade, so the CLI gets a plain HTTP error it can print.
      preHandler: async (request) => {
        if (scopeOf(request).environment !== "test") {
          throw new HooklineError(
            "test_key_required",
            "only a TEST key can listen: LIVE events never go to a developer's machine",
            { status: 403 },
          );
        }
      },
    },
    async (socket, request) => {
      const scope = scopeOf(request);
      const events = (request.query as { events?: string }).events;
      const eventTypes = events ? [...new Set(events.split(","))] : null;
      // Only results of attempts sent on this session matter; none can come before it is attached.
      let session: ReturnType<ApiContext["listeners"]["attach"]> | null = null;
      socket.on("message", (data) => session?.receive(String(data)));
      let alive = true;
      socket.on("pong", () => {
        alive = true;
      });
      const pinger = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, PING_EVERY_MS);
      let endpointId: string | null = null;
      // The last session here for the endpoint has gone: other nodes may attempt its deliveries (failing: offline).
      const release = () => {
        if (!endpointId || ctx.listeners.endpointIds().includes(endpointId)) return;
        ctx.store.releaseListener(endpointId, ctx.node).catch((error) => {
          request.log.error({ err: error }, "releasing the listen endpoint failed; its hold runs out by itself");
        });
      };
      socket.on("close", () => {
        clearInterval(pinger);
        session?.detach();
        release();
      });
      try {
        const hold = { node: ctx.node, until: ctx.now() + HOLD_MS };
        const endpoint = await ctx.store.openListener(scope, eventTypes, newSigningSecret(), hold, ctx.now());
        endpointId = endpoint.id;
        if (socket.readyState !== socket.OPEN) return release();
        // The endpoint may have been disabled (a 410 from the local server): claims held for it go back.
        ctx.dispatcher.forget(endpoint.id);
        session = ctx.listeners.attach(endpoint.id, socket);
        socket.send(
          JSON.stringify({ type: "ready", endpoint_id: endpoint.id, secret: endpoint.secret, events: eventTypes }),
        );
        ctx.dispatcher.wake();
      } catch (error) {
        request.log.error({ err: error }, "opening a listen session failed");
        socket.close(1011, "the server could not open the listen session");
      }
    },
  );
}
