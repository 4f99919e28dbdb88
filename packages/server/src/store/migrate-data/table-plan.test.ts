import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HooklineError } from "../../errors.ts";
import { planTables, type TargetColumn } from "./table-plan.ts";

const column = (name: string, notNull = false, hasDefault = false): TargetColumn => ({ name, notNull, hasDefault });

describe("migrate-data's table plan", () => {
  it("copies the columns both tables have, in the source's order, parents first", () => {
    const plans = planTables(
      [
        { name: "zz_later", columns: ["id"] },
        { name: "events", columns: ["id", "body", "legacy"] },
        { name: "accounts", columns: ["id", "name"] },
      ],
      [
        { name: "accounts", columns: [column("name", true), column("id", true), column("extra")] },
        { name: "events", columns: [column("body", true), column("id", true), column("kind", true, true)] },
        { name: "zz_later", columns: [column("id", true)] },
        { name: "only_in_postgres", columns: [column("id", true)] },
      ],
    );
    assert.deepEqual(plans, [
      { table: "accounts", columns: ["id", "name"], sourceOnly: [] },
      { table: "events", columns: ["id", "body"], sourceOnly: ["legacy"] },
      { table: "zz_later", columns: ["id"], sourceOnly: [] },
    ]);
  });

  it("refuses when rows would be lost or a required column has no value, naming every problem", () => {
    assert.throws(
      () =>
        planTables(
          [
            { name: "accounts", columns: ["id"] },
            { name: "orphans", columns: ["id"] },
          ],
          [{ name: "accounts", columns: [column("id", true), column("name", true), column("kind", true, true)] }],
        ),
      (error: unknown) =>
        error instanceof HooklineError &&
        error.code === "schema_mismatch" &&
        error.message.includes("accounts.name is NOT NULL in PostgreSQL") &&
        error.message.includes("table orphans has no PostgreSQL table") &&
        !error.message.includes("accounts.kind"),
    );
  });
});
