import { notFound } from "../../errors.ts";
import { hashKey, randomToken } from "../../ids.ts";
import { type Api, type ApiContext, pageOf } from "../context.ts";
import { AccountResponse, CreateAccountBody, CreatedAccountResponse, IdParams, PageOf, PageQuery } from "../schemas.ts";
import { accountJson, pageJson } from "../serialize.ts";

export function registerAccountRoutes(app: Api, { store, now }: ApiContext): void {
  app.post(
    "/v1/accounts",
    {
      config: { auth: "admin" },
      schema: {
        summary: "Create an account",
        description:
          "Answers the account with its TEST and LIVE keys. The keys are shown this once: Hookline keeps only their hashes.",
        body: CreateAccountBody,
        response: { 201: CreatedAccountResponse },
      },
    },
    async (request, reply) => {
      const { account, keys } = await createAccountWithKeys(store, request.body.name, now());
      return reply.code(201).send({ ...accountJson(account), keys });
    },
  );

  app.get(
    "/v1/accounts",
    {
      config: { auth: "admin" },
      schema: { summary: "List accounts", querystring: PageQuery, response: { 200: PageOf(AccountResponse) } },
    },
    async (request) => {
      const page = pageOf(request.query);
      return pageJson(await store.listAccounts(page.fetch), page.limit, accountJson);
    },
  );

  app.get(
    "/v1/accounts/:id",
    {
      config: { auth: "admin" },
      schema: { summary: "Read an account", params: IdParams, response: { 200: AccountResponse } },
    },
    async (request) => {
      const account = await store.getAccount(request.params.id);
      if (!account) throw notFound("account", request.params.id);
      return accountJson(account);
    },
  );
}

/** Creates an account and its two keys; the keys exist in plain text only in this return value. */
export async function createAccountWithKeys(store: ApiContext["store"], name: string, now: number) {
  const keys = { test: `hl_test_${randomToken(32)}`, live: `hl_live_${randomToken(32)}` };
  const account = await store.createAccount(name, { test: hashKey(keys.test), live: hashKey(keys.live) }, now);
  return { account, keys };
}
