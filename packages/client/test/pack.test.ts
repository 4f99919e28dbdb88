import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const PACKAGE = fileURLToPath(new URL("..", import.meta.url));

describe("the published @hookline/client", () => {
  it("builds to JavaScript with types, ships only dist and README, and works without TypeScript", async () => {
    // `npm pack` runs the package's prepack script, which builds dist/ with tsc.
    const output = execFileSync("npm", ["pack", "--dry-run", "--json"], { cwd: PACKAGE, encoding: "utf8" });
    const [pack] = JSON.parse(output.slice(output.indexOf("["))) as [{ name: string; files: { path: string }[] }];
    assert.equal(pack.name, "@hookline/client");
    const files = pack.files.map((file) => file.path).sort();
    for (const entry of ["index", "client", "schemas"]) {
      assert.ok(files.includes(`dist/${entry}.js`) && files.includes(`dist/${entry}.d.ts`), `dist/${entry}`);
    }
    assert.deepEqual(
      files.filter((file) => !file.startsWith("dist/") && file !== "README.md" && file !== "package.json"),
      [],
    );
    const built = await import(pathToFileURL(`${PACKAGE}/dist/index.js`).href);
    assert.throws(() => new built.Hookline({}), /apiKey is required/);
    assert.equal(typeof new built.Hookline({ apiKey: "hl_test_x" }).events.create, "function");
  });
});
