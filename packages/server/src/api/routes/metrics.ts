import { Type } from "typebox";
import type { Api, ApiContext } from "../context.ts";

/**
 * Prometheus metrics, on every role (a worker serves them beside its probes). Public,
 * like the probes: the figures are totals with no account, endpoint or URL in any label,
 * and a scrape costs the store at most one bounded query a second (see docs/operations.md).
 */
export function registerMetricsRoute(app: Api, { metrics }: ApiContext): void {
  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics",
        description:
          "Ingest, delivery outcomes and durations, backlog, disabled endpoints, store errors and process figures, " +
          "each series labelled with the node's role (docs/operations.md lists them).",
        response: {
          200: {
            description: "The Prometheus text format, version 0.0.4",
            content: { "text/plain": { schema: Type.String() } },
          },
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.render();
      return reply.type(metrics.contentType).header("cache-control", "no-store").send(text);
    },
  );
}
