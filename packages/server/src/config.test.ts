import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { explainConfig, loadConfig, OPTIONS } from "./config.ts";

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

  it("says where each setting came from, its value as a file writes it", () => {
    const file = join(tmpdir(), `hookline-config-explain-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ port: 1000, host: "0.0.0.0", lease: "2m" }));
    const { config, settings } = explainConfig({
      file,
      env: { HOOKLINE_PORT: "2000", HOOKLINE_LOG_LEVEL: "warn" },
      flags: { dataDir: "relative/dir" },
    });
    const bySetting = new Map(settings.map((s) => [s.option.file, s]));
    assert.equal(settings.length, Object.keys(OPTIONS).length);
    assert.deepEqual(
      [bySetting.get("host")?.source, bySetting.get("host")?.from, bySetting.get("host")?.value],
      ["file", file, "0.0.0.0"],
    );
    assert.deepEqual([bySetting.get("port")?.source, bySetting.get("port")?.from], ["env", "HOOKLINE_PORT"]);
    assert.deepEqual([bySetting.get("data_dir")?.source, bySetting.get("data_dir")?.value], ["flag", config.dataDir]);
    assert.deepEqual([bySetting.get("role")?.source, bySetting.get("role")?.from], ["default", null]);
    assert.equal(bySetting.get("lease")?.value, "2m");
    assert.deepEqual(bySetting.get("retry_schedule")?.value, ["1h*72"]);
    assert.equal(config.logLevel, "warn");
    assert.throws(() => loadConfig({ env: { HOOKLINE_LOG_LEVEL: "loud" } }), /HOOKLINE_LOG_LEVEL must be one of/);
  });

  it("documents every setting in docs/configuration.md", () => {
    const docs = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
    const rows = docs.split("\n").filter((line) => line.startsWith("| `"));
    const missing = Object.values(OPTIONS)
      .filter((option) => !rows.some((row) => row.startsWith(`| \`${option.file}\` | \`${option.env}\` |`)))
      .map((option) => `${option.file} (${option.env})`);
    assert.deepEqual(missing, [], "settings without a row in docs/configuration.md");
  });
});
