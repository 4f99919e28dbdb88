import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { request } from "undici";
import { redactUrl } from "../packages/server/src/store/migrate-data/postgres-target.ts";
import { spawnNode, stopChild } from "./child-process.ts";
import { type CpuReaders, cpuSeconds, memoryOf, serverThreadReaders } from "./cpu.ts";

const MAIN = fileURLToPath(new URL("../packages/server/src/main.ts", import.meta.url));
/** The Node flags `hookline` runs with (its shebang line), so the bench measures the server as users start it. */
const SERVER_NODE_FLAGS = (
  /^#!\/usr\/bin\/env -S node(.*)$/m.exec(
    readFileSync(new URL("../packages/server/bin/hookline.js", import.meta.url), "utf8"),
  )?.[1] ?? ""
)
  .split(" ")
  .filter(Boolean);
const GUARD = pathToFileURL(fileURLToPath(new URL("./server-guard.ts", import.meta.url))).href;

export interface HooklineServer {
  url: string;
  /** The Default account's TEST key, printed on first start. */
  testKey: string;
  dataDir: string;
  child: ChildProcess;
  /** The HOOKLINE_* settings it was started with (recorded in the results; a database password is masked). */
  env: Record<string, string>;
  /** Arguments after `serve` (e.g. --role worker). */
  args: string[];
  cpuSeconds(): number | null;
  /** CPU seconds of its HTTP thread, store thread and V8 helpers apart (cpu.ts). */
  cpuByThread: CpuReaders;
  memory(): ReturnType<typeof memoryOf>;
  /** Milliseconds from spawning the process to its "listening" line. */
  startMs: number;
  /** An API call with the TEST key (or `key`); resolves with the status and parsed body. */
  api(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; body: any }>;
  /**
   * Graceful stop (SIGTERM), SIGKILL after the grace period; then deletes the
   * data dir unless `keepData`. Resolves with the exit code or signal.
   */
  stop(options?: { keepData?: boolean }): Promise<number | string>;
}

export interface StartOptions {
  dataDir: string;
  env?: Record<string, string>;
  /** More arguments for `hookline serve`, e.g. ["--role", "worker"]. */
  args?: string[];
  /** Extra flags for node (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /**
   * The data dir is not fresh: the server prints no keys, so use this TEST key
   * (printed when the dir was first used).
   */
  testKey?: string;
  timeoutMs?: number;
}

/**
 * Settings a server takes from the environment that would silently turn an embedded-store
 * scenario into a PostgreSQL one: cleared (an empty value is unset) unless `env` sets them.
 */
const STORE_ENV = { DATABASE_URL: "", HOOKLINE_DATABASE_SCHEMA: "", HOOKLINE_ROLE: "" };

/** Runs `hookline serve --port 0` as its own process with a fresh data dir and waits for it to listen. */
export async function startHooklineServer(options: StartOptions): Promise<HooklineServer> {
  const env: Record<string, string> = { HOOKLINE_LOG_LEVEL: "warn", ...options.env };
  const args = options.args ?? [];
  const spawnedAt = performance.now();
  const child = spawnNode(MAIN, ["serve", "--port", "0", "--data-dir", options.dataDir, ...args], {
    env: { ...STORE_ENV, ...env },
    nodeArgs: [...SERVER_NODE_FLAGS, "--import", GUARD, ...(options.nodeArgs ?? [])],
    stdout: "pipe",
  });
  let exitStatus: number | string | null = null;
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      exitStatus = code ?? signal ?? -1;
      resolve(exitStatus);
    }),
  );
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { url, testKey } = await new Promise<{ url: string; testKey: string }>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`Hookline did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", () => reject(new Error(`Hookline exited before listening (${exitStatus})`)));
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const listening = /Hookline listening on (http:\/\/\S+)/.exec(out);
      if (!listening) return;
      clearTimeout(timer);
      const key = /TEST key: (hl_test_\S+)/.exec(out)?.[1] ?? options.testKey;
      if (!key) reject(new Error("Hookline did not print a TEST key: is the data dir fresh?"));
      else resolve({ url: listening[1] as string, testKey: key });
    });
  }).catch(async (error: unknown) => {
    await stopChild(child, 2_000);
    throw error;
  });
  const startMs = performance.now() - spawnedAt;
  // Nothing else needs its output, but a full pipe would block it.
  child.stdout?.resume();

  return {
    url,
    testKey,
    dataDir: options.dataDir,
    child,
    env: env.DATABASE_URL ? { ...env, DATABASE_URL: redactUrl(env.DATABASE_URL) } : env,
    args,
    cpuSeconds: () => cpuSeconds(child.pid),
    cpuByThread: serverThreadReaders(child.pid),
    memory: () => memoryOf(child.pid),
    startMs,
    async api(method, path, body, key) {
      const response = await request(url + path, {
        method,
        headers: {
          authorization: `Bearer ${key ?? testKey}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: text ? JSON.parse(text) : null };
    },
    async stop(stopOptions) {
      await stopChild(child, 25_000);
      if (!stopOptions?.keepData) rmSync(options.dataDir, { recursive: true, force: true });
      return exited;
    },
  };
}
