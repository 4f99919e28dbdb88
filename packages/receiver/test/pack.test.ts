import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { signWebhook } from "../src/index.ts";

const PACKAGE = fileURLToPath(new URL("..", import.meta.url));

describe("the published package", () => {
  it("builds to JavaScript with types, ships only dist and README, and works without TypeScript", async () => {
    // `npm pack` runs the package's prepack script, which builds dist/ with tsc.
    const output = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: PACKAGE, encoding: "utf8" });
    const [pack] = JSON.parse(output.slice(output.indexOf("["))) as [{ name: string; files: { path: string }[] }];
    assert.equal(pack.name, "@hookline/receiver");
    const files = pack.files.map((file) => file.path).sort();
    for (const entry of [
      "index",
      "verify",
      "dedup",
      "errors",
      "adapters/express",
      "adapters/fastify",
      "adapters/hono",
      "adapters/node",
    ]) {
      assert.ok(files.includes(`dist/${entry}.js`), `dist/${entry}.js is packed`);
      assert.ok(files.includes(`dist/${entry}.d.ts`), `dist/${entry}.d.ts is packed`);
    }
    assert.ok(files.includes("README.md"));
    assert.deepEqual(
      files.filter((file) => !file.startsWith("dist/") && file !== "README.md" && file !== "package.json"),
      [],
      "no sources, tests or configs",
    );

    // Every export in package.json points at a packed file.
    const manifest = JSON.parse(readFileSync(`${PACKAGE}/package.json`, "utf8")) as {
      exports: Record<string, { types: string; default: string }>;
    };
    for (const target of Object.values(manifest.exports)) {
      assert.ok(files.includes(target.default.slice(2)) && files.includes(target.types.slice(2)), target.default);
    }

    // The built JavaScript verifies the spec's vector on its own.
    const built = await import(pathToFileURL(`${PACKAGE}/dist/index.js`).href);
    const event = await built.verifyWebhook(
      '{"test": 2432232314}',
      {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
      },
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      { now: () => 1614265330_000 },
    );
    assert.deepEqual(event, { test: 2432232314 });
    const source = readFileSync(`${PACKAGE}/dist/verify.js`, "utf8");
    assert.doesNotMatch(
      source,
      /from "node:|require\(/,
      "no Node built-ins in the core: it runs on Workers, Deno and Bun",
    );
  });

  // Runs after the build above (tests in a file run in order): the example imports the built package.
  it("examples/express-receiver answers 200, processes an event once, and refuses a forged one", async () => {
    const secret = `whsec_${btoa("example-receiver-secret-32-bytes")}`;
    const example = fileURLToPath(new URL("../../../examples/express-receiver/server.js", import.meta.url));
    const child = spawn(process.execPath, [example], {
      env: { ...process.env, WEBHOOK_SECRET: secret, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the example did not start: ${out}`)), 10_000);
        child.stdout.on("data", () => {
          const match = /listening on (\S+)/.exec(out);
          if (match) {
            clearTimeout(timer);
            resolve(match[1] as string);
          }
        });
      });
      const body = '{"id":"evt_ex1","type":"transfer.completed","data":{"amount":"1"}}';
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        "content-type": "application/json",
        "webhook-id": "evt_ex1",
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await signWebhook(secret, "evt_ex1", timestamp, body),
      };
      for (let i = 0; i < 2; i++) assert.equal((await fetch(url, { method: "POST", headers, body })).status, 200);
      const forged = await fetch(url, { method: "POST", headers, body: body.replace('"1"', '"1000"') });
      assert.equal(forged.status, 400);
      const deadline = Date.now() + 5000;
      while (!out.includes("repeat of evt_ex1") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(out.match(/processed transfer\.completed evt_ex1/g)?.length, 1, out);
      assert.match(out, /repeat of evt_ex1 ignored/);
    } finally {
      child.kill();
    }
  });
});
