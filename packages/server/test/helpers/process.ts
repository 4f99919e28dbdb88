import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { eventually } from "./client.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything printed on stdout so far (keys on first start). */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/**
 * Runs `hookline serve` as a real child process (so it can be killed with
 * SIGKILL) and resolves once it prints its listening line.
 */
export async function spawnServer(
  dataDir: string,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN, "serve", "--port", "0", "--data-dir", dataDir], {
    env: { ...process.env, HOOKLINE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr?.on("data", (chunk) => {
    err += chunk;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${err}`)), timeoutMs);
    child.stdout?.on("data", (chunk) => {
      out += chunk;
      const match = /Hookline listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${err}`));
    });
  });
  return { child, url, stdout: () => out, stderr: () => err, exited };
}

/** How a `hookline` command ended. */
export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hookline <args>` as a real process (asynchronously: receivers in this process keep answering). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { ...process.env, HOOKLINE_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Keys printed by a first start. */
export function printedKeys(stdout: string) {
  const find = (pattern: RegExp) => pattern.exec(stdout)?.[1] ?? "";
  return {
    admin: find(/admin key[^:]*: (hl_admin_\S+)/),
    test: find(/TEST key: (hl_test_\S+)/),
    live: find(/LIVE key: (hl_live_\S+)/),
  };
}

/** A real `hookline listen` process; its output is collected line by line. */
export function startListen(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [MAIN, "listen", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    err += chunk;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    /** The signing secret it prints once connected. */
    secret: () =>
      eventually(() => /signing secret is (whsec_\S+)/.exec(out)?.[1], 10_000, `hookline listen to connect:\n${err}`),
    async stop() {
      child.kill("SIGINT");
      return exited;
    },
  };
}
