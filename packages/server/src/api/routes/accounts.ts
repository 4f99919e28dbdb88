import { notFound } from "../../errors.ts";
import { hashKey, randomToken } from "../../ids.ts";
import { type Api, type ApiContext, pageOf } from "../context.ts";
import { CreateAccountBody, IdParams, PageQuery } from "../schemas.ts";
import { accountJson, pageJson } from "../serialize.ts";

export function registerAccountRoutes(app: Api, { store, now }: ApiContext): void {
  app.post(
    "/v1/accounts",
    { config: { auth: "admin" }, schema: { body: CreateAccountBody } },
    async (request, reply) => {
      const { account, keys } = await createAccountWithKeys(store, request.body.name, now());
      return reply.code(201).send({ ...accountJson(account), keys });
    },
  );

  app.get("/v1/accounts", { config: { auth: "admin" }, schema: { querystring: PageQuery } }, async (request) => {
    const page = pageOf(request.query);
    return pageJson(await store.listAccounts(page.fetch), page.limit, accountJson);
  });

  app.get("/v1/accounts/:id", { config: { auth: "admin" }, schema: { params: IdParams } }, async (request) => {
    const account = await store.getAccount(request.params.id);
    if (!account) throw notFound("account", request.params.id);
    return accountJson(account);
  });
}

/** Creates an account and its two keys; the keys exist in plain text only in this return value. */
export async function createAccountWithKeys(store: ApiContext["store"], name: string, now: number) {
  const keys = { test: `hl_test_${randomToken(32)}`, live: `hl_live_${randomToken(32)}` };
  const account = await store.createAccount(name, { test: hashKey(keys.test), live: hashKey(keys.live) }, now);
  return { account, keys };
}
