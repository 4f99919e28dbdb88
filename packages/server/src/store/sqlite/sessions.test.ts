import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { hashKey } from "../../ids.ts";
import type { Session, Store } from "../store.ts";
import { createSqliteStore } from "./sqlite-store.ts";

const T0 = 1_800_000_000_000;

describe("sessions and portal links in the store", () => {
  let dir: string;
  let store: Store;
  let accountId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "hookline-sessions-"));
    store = createSqliteStore(dir);
    accountId = (await store.createAccount("S", { test: hashKey("t"), live: hashKey("l") }, T0)).id;
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a session is found until it expires, and not after logout", async () => {
    const session: Session = {
      kind: "account",
      accountId,
      adminKeyHash: null,
      csrfToken: "c",
      theme: { productName: "P", accentColor: null, logoUrl: null },
      createdAt: T0,
      expiresAt: T0 + 1000,
    };
    await store.createSession("h1", session);
    assert.deepEqual(await store.findSession("h1", T0 + 999), session);
    assert.equal(await store.findSession("h1", T0 + 1000), null);
    await store.createSession("h2", { ...session, expiresAt: T0 + 5000 });
    await store.deleteSession("h2");
    assert.equal(await store.findSession("h2", T0), null);
  });

  it("a portal link works once, and never after it expires", async () => {
    await store.createPortalLink("once", { accountId, theme: null, expiresAt: T0 + 60_000 }, T0);
    assert.deepEqual(await store.usePortalLink("once", T0 + 1), { accountId, theme: null, expiresAt: T0 + 60_000 });
    assert.equal(await store.usePortalLink("once", T0 + 2), null);
    await store.createPortalLink("late", { accountId, theme: null, expiresAt: T0 + 60_000 }, T0);
    assert.equal(await store.usePortalLink("late", T0 + 60_000), null);
    assert.equal(await store.usePortalLink("unknown", T0), null);
  });
});
