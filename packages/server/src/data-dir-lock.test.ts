import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { lockDataDir } from "./data-dir-lock.ts";

describe("lockDataDir", () => {
  const dir = mkdtempSync(join(tmpdir(), "hookline-lock-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "data", "hookline.pid");

  it("holds the directory for this process until released", () => {
    const release = lockDataDir(join(dir, "data"));
    assert.equal(readFileSync(file, "utf8").trim(), String(process.pid));
    assert.throws(() => lockDataDir(join(dir, "data")), /another Hookline \(pid \d+\) is using the data directory/);
    release();
    assert.equal(existsSync(file), false);
  });

  it("refuses while another running process holds it, takes over from one that is gone", () => {
    writeFileSync(file, `${process.ppid}\n`);
    assert.throws(() => lockDataDir(join(dir, "data")), new RegExp(`pid ${process.ppid}`));
    writeFileSync(file, "2147483646\n");
    const release = lockDataDir(join(dir, "data"));
    assert.equal(readFileSync(file, "utf8").trim(), String(process.pid));
    release();
  });
});
