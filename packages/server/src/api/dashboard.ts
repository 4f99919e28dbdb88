import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Api } from "./context.ts";

/** Where `npm install` (the root `prepare` script) builds the dashboard. */
const DIST = fileURLToPath(new URL("../../../dashboard/dist/", import.meta.url));

/** The single-page app's own paths; each answers with index.html and the router takes over. */
const PAGES = ["/", "/login", "/accounts", "/accounts/*"];
const PORTAL_PAGES = ["/portal", "/portal/*"];

/**
 * Serves the dashboard (packages/dashboard, built by Vite) at `/`. It uses the
 * public API like any client. Pages are never framed, except the portal, which
 * platforms embed in an iframe, by the sites in `portalFrameAncestors` (CSP
 * frame-ancestors sources; `*` by default): its session cookie is partitioned per
 * embedding site (or not sent at all cross-site over http), so a stranger's frame holds no session.
 */
export function registerDashboard(app: Api, portalFrameAncestors: readonly string[]): void {
  const indexPath = `${DIST}index.html`;
  const built = existsSync(indexPath);
  const index = built ? readFileSync(indexPath, "utf8") : null;
  if (built) {
    app.register(fastifyStatic, {
      root: `${DIST}assets`,
      prefix: "/assets/",
      index: false,
      // File names carry a content hash.
      immutable: true,
      maxAge: "365d",
    });
  }
  const page = (frameAncestors: string) => async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.headers({
      "content-security-policy": [
        "default-src 'self'",
        "img-src 'self' https: data:",
        "style-src 'self' 'unsafe-inline'",
        "base-uri 'none'",
        "form-action 'self'",
        `frame-ancestors ${frameAncestors}`,
      ].join("; "),
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
      ...(frameAncestors === "'none'" ? { "x-frame-options": "DENY" } : {}),
    });
    if (index === null) {
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send("The dashboard is not built: run `npm install` (or `npm run build -w @hookline/dashboard`).\n");
    }
    return reply.type("text/html; charset=utf-8").send(index);
  };
  // Pages, not API: left out of /openapi.json (as @fastify/static leaves out its assets).
  const hide = { schema: { hide: true } };
  for (const path of PAGES) app.get(path, hide, page("'none'"));
  for (const path of PORTAL_PAGES) app.get(path, hide, page(portalFrameAncestors.join(" ")));
}
