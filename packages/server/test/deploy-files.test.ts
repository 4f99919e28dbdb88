import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { OPTIONS } from "../src/config.ts";
import { tempDir } from "./helpers/hookline.ts";

// The deployment files (deploy/) cannot be run here (no Docker daemon, no systemd), so this
// checks what they rely on: the settings they name exist, the command they run starts and
// stops cleanly, and they give a stop more time than Hookline takes to drain.

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, "utf8");
const dockerfile = read("deploy/Dockerfile");
const compose = read("deploy/docker-compose.yml");
const unit = read("deploy/hookline.service");
const DRAIN_S = Number(OPTIONS.shutdownTimeoutMs.fallback) / 1000;
/** The Node flags of `hookline` (its shebang line); the image and the unit must pass the same. */
const NODE_FLAGS = (/^#!\/usr\/bin\/env -S node (.+)$/m.exec(read("packages/server/bin/hookline.js"))?.[1] ?? "").split(
  " ",
);

describe("deployment files", () => {
  it("name only settings Hookline has", () => {
    const known = new Set(Object.values(OPTIONS).map((option) => option.env));
    for (const [name, text] of [
      ["Dockerfile", dockerfile],
      ["docker-compose.yml", compose],
      ["hookline.service", unit],
    ] as const) {
      for (const [setting] of text.matchAll(/\b(HOOKLINE_[A-Z_]+|DATABASE_URL)\b/g)) {
        assert.ok(known.has(setting), `${name} sets ${setting}, which is not a setting`);
      }
    }
  });

  it("give a stop longer than Hookline's drain", () => {
    const unitStop = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    assert.ok(unitStop > DRAIN_S, `TimeoutStopSec ${unitStop} s ≤ ${DRAIN_S} s`);
    for (const [, seconds] of compose.matchAll(/stop_grace_period: (\d+)s/g)) {
      assert.ok(Number(seconds) > DRAIN_S, `stop_grace_period ${seconds} s ≤ ${DRAIN_S} s`);
    }
  });

  it("run a command that starts Hookline and stops it cleanly on SIGTERM", async () => {
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1] ?? "[]") as string[];
    assert.deepEqual(entrypoint, ["node", ...NODE_FLAGS, "packages/server/src/main.ts"]);
    const exec = /^ExecStart=\/opt\/hookline\/(\S+) (.+)$/m.exec(unit);
    assert.ok(exec, "ExecStart runs a file of the checkout");
    const [node, ...rest] = (exec as unknown as [string, string, string]).slice(1).join(" ").split(" ");
    const flags = rest.slice(0, NODE_FLAGS.length);
    const [main, ...argv] = rest.slice(NODE_FLAGS.length);
    assert.deepEqual(flags, NODE_FLAGS, "the unit runs Node with the flags of bin/hookline.js");
    assert.equal(main, entrypoint.at(-1), "the unit and the image run the same entry point");
    assert.ok(existsSync(`${ROOT}${node}`), `${node} exists after npm ci`);
    const dir = tempDir();
    const args = argv.map((arg) => (arg === "/var/lib/hookline" ? dir.path : arg));
    const child = spawn(`${ROOT}${node}`, [...flags, main as string, ...args], {
      cwd: ROOT,
      env: { ...process.env, HOOKLINE_HOST: "127.0.0.1", HOOKLINE_PORT: "0", HOOKLINE_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (chunk) => {
          out += chunk;
          const match = /Hookline listening on (\S+)/.exec(out);
          if (match) resolve(match[1] as string);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code} before listening`)));
      });
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      child.kill("SIGKILL");
      dir.remove();
    }
  });
});
