import type { FastifyRequest } from "fastify";
import { HooklineError } from "../errors.ts";
import { hashKey, sameHash } from "../ids.ts";
import type { Scope, Store } from "../store/store.ts";

export interface Auth {
  /** The account and environment an `hl_test_`/`hl_live_` key opens; throws otherwise. */
  account(request: FastifyRequest): Promise<Scope>;
  /** Passes only with the operator's admin key. */
  admin(request: FastifyRequest): void;
}

export function createAuth(store: Store, adminKeyHash: string): Auth {
  return {
    async account(request) {
      const key = bearer(request);
      if (key.startsWith("hl_admin_")) {
        throw new HooklineError(
          "wrong_key",
          "this route needs an account key (hl_test_… or hl_live_…), not the admin key",
          {
            status: 403,
          },
        );
      }
      const scope = await store.findKey(hashKey(key));
      if (!scope) throw unauthorized("the API key is not valid");
      return scope;
    },
    admin(request) {
      const key = bearer(request);
      if (!key.startsWith("hl_admin_") || !sameHash(hashKey(key), adminKeyHash)) {
        throw new HooklineError("forbidden", "this route needs the admin key", { status: 403 });
      }
    },
  };
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
