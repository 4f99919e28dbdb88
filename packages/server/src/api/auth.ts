import type { FastifyInstance, FastifyRequest } from "fastify";
import { HooklineError } from "../errors.ts";
import { hashKey, sameHash } from "../ids.ts";
import type { Scope, Store } from "../store/store.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Which key a route needs (`any`: admin or account); routes without it are public (health checks). */
    auth?: "admin" | "account" | "any";
  }
  interface FastifyRequest {
    /** The account and environment of an account key, set before the body is read. */
    scope: Scope | null;
  }
}

const KEY_CACHE_SIZE = 10_000;

/**
 * Checks the key in `onRequest`, before the body is read or validated: an
 * anonymous caller learns nothing about the schema and costs no parsing.
 */
export function installAuth(app: FastifyInstance, store: Store, adminKeyHash: string): void {
  // Keys never change once made, so what the store said about one can be remembered.
  const known = new Map<string, Scope>();
  const findKey = async (hash: string) => {
    let scope = known.get(hash) ?? null;
    if (!scope) {
      scope = await store.findKey(hash);
      if (scope) {
        if (known.size >= KEY_CACHE_SIZE) known.clear();
        known.set(hash, scope);
      }
    }
    return scope;
  };
  app.decorateRequest("scope", null);
  app.addHook("onRequest", async (request) => {
    const needs = request.routeOptions.config.auth;
    if (!needs) return;
    const key = bearer(request);
    const hash = hashKey(key);
    const isAdmin = key.startsWith("hl_admin_") && sameHash(hash, adminKeyHash);
    const scope = isAdmin ? null : await findKey(hash);
    if (!isAdmin && !scope) throw unauthorized("the API key is not valid");
    if (needs === "admin" && !isAdmin) {
      throw new HooklineError("forbidden", "this route needs the admin key, not an account key", { status: 403 });
    }
    if (needs === "account" && !scope) {
      throw new HooklineError(
        "wrong_key",
        "this route needs an account key (hl_test_… or hl_live_…), not the admin key",
        {
          status: 403,
        },
      );
    }
    request.scope = scope;
  });
}

/** The scope of a route configured with `auth: "account"`. */
export function scopeOf(request: FastifyRequest): Scope {
  if (!request.scope) throw new Error(`route ${request.routeOptions.url} is not configured with auth: "account"`);
  return request.scope;
}

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw unauthorized("send the API key as `Authorization: Bearer <key>`");
  return match[1] as string;
}

function unauthorized(message: string) {
  return new HooklineError("unauthorized", message, { status: 401, headers: { "www-authenticate": "Bearer" } });
}
