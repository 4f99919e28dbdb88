import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "./config.ts";

describe("loadConfig", () => {
  it("has the documented defaults", () => {
    const config = loadConfig();
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.port, 8080);
    assert.equal(config.attemptTimeoutMs, 15_000);
    assert.equal(config.maxResponseBytes, 65_536);
    assert.equal(config.maxBodyBytes, 262_144);
    assert.equal(config.retrySchedule.length, 72);
    assert.ok(Object.isFrozen(config));
  });

  it("takes flags over environment over file", () => {
    const file = join(tmpdir(), `hookline-config-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ port: 1000, host: "0.0.0.0", retry_schedule: ["5s", "1m"] }));
    const config = loadConfig({ file, env: { HOOKLINE_PORT: "2000" }, flags: { port: "3000" } });
    assert.equal(config.port, 3000);
    assert.equal(config.host, "0.0.0.0");
    assert.deepEqual(config.retrySchedule, [5000, 60_000]);
    assert.equal(loadConfig({ file, env: { HOOKLINE_PORT: "2000" } }).port, 2000);
    assert.deepEqual(
      loadConfig({ env: { HOOKLINE_RETRY_SCHEDULE: "1s,1h*2" } }).retrySchedule,
      [1000, 3_600_000, 3_600_000],
    );
  });

  it("refuses unknown keys and bad values with the setting's name", () => {
    const file = join(tmpdir(), `hookline-config-bad-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    assert.throws(() => loadConfig({ file }), /unknown setting "prot"/);
    assert.throws(() => loadConfig({ env: { HOOKLINE_PORT: "http" } }), /HOOKLINE_PORT must be an integer/);
    assert.throws(() => loadConfig({ env: { HOOKLINE_RETRY_SCHEDULE: "soon" } }), /HOOKLINE_RETRY_SCHEDULE/);
    assert.throws(() => loadConfig({ env: { HOOKLINE_ATTEMPT_TIMEOUT: "90s" } }), /lease/);
    assert.throws(() => loadConfig({ file: "/nonexistent/x.json", fileRequired: true }), /cannot read config file/);
  });
});
