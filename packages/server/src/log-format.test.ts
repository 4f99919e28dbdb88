import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prettyLine } from "./log-format.ts";

describe("prettyLine", () => {
  it("shows time, level and message first, then the fields", () => {
    const line = JSON.stringify({
      level: 30,
      time: Date.parse("2026-11-27T12:00:01.250Z"),
      pid: 7,
      msg: "attempt",
      delivery_id: "dlv_1",
      status: 204,
      note: "two words",
    });
    assert.equal(prettyLine(line), '12:00:01.250 INFO  attempt delivery_id=dlv_1 status=204 note="two words"\n');
  });

  it("puts an error's stack under the line, and passes anything not JSON through", () => {
    const line = JSON.stringify({
      level: 50,
      time: 0,
      msg: "failed",
      err: { message: "x", stack: "Error: x\n    at f" },
    });
    assert.equal(prettyLine(line), "00:00:00.000 ERROR failed\nError: x\n    at f\n");
    assert.equal(prettyLine("plain text"), "plain text\n");
  });
});
