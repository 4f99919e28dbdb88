import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

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
});
