import { type ChildProcess, spawn } from "node:child_process";
import { cpuSeconds } from "./cpu.ts";
import { isNotice, isRpcReply, type RpcApi } from "./ipc.ts";

/** Every process the benchmark started and has not yet seen exit; all are stopped on the way out. */
const children = new Set<ChildProcess>();

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Flags for node itself (e.g. --cpu-prof), placed before the script. */
  nodeArgs?: string[];
  /** Where the child's stdout goes; "pipe" to read it. */
  stdout?: "inherit" | "pipe" | "ignore";
}

/** Starts `node <script> <args>` with the same Node binary, an IPC channel and tracking for cleanup. */
export function spawnNode(script: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", options.stdout ?? "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/**
 * Asks a child to stop, and kills it (SIGKILL) when it has not exited after
 * `graceMs`. Closing the IPC channel is the request: every benchmark process
 * exits on it (the Hookline server through server-guard.ts, with one SIGTERM).
 */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (child.connected) child.disconnect();
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child still running, in parallel. Safe to call more than once. */
export async function stopAllChildren(graceMs = 5_000): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, graceMs)));
}

/** Kills every child at once; for the synchronous `exit` handler, where nothing can be awaited. */
export function killAllChildrenNow(): void {
  for (const child of children) child.kill("SIGKILL");
}

type Result<F> = F extends (...args: any[]) => infer R ? Awaited<R> : never;
type Params<F> = F extends (params: infer P) => unknown ? P : never;

/**
 * The orchestrator's handle on a benchmark process that serves `Api` over IPC
 * (see ipc.ts): typed calls, notices, and a clean stop.
 */
export class Worker<Api extends RpcApi<Api>> {
  readonly name: string;
  readonly child: ChildProcess;
  #nextId = 1;
  #pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  #listeners = new Map<string, Set<(data: any) => void>>();
  #exitError: Error | null = null;

  constructor(name: string, script: string, args: string[] = [], options: SpawnOptions = {}) {
    this.name = name;
    this.child = spawnNode(script, args, options);
    this.child.on("message", (message: unknown) => {
      if (isRpcReply(message)) {
        const waiter = this.#pending.get(message.rpc);
        this.#pending.delete(message.rpc);
        if (message.error !== undefined) waiter?.reject(new Error(`${name}: ${message.error}`));
        else waiter?.resolve(message.result);
      } else if (isNotice(message)) {
        for (const listener of this.#listeners.get(message.notice) ?? []) listener(message.data);
      }
    });
    this.child.once("exit", (code, signal) => {
      this.#exitError = new Error(`${name} exited (${signal ?? `code ${code}`})`);
      for (const waiter of this.#pending.values()) waiter.reject(this.#exitError);
      this.#pending.clear();
    });
  }

  call<M extends keyof Api & string>(method: M, params: Params<Api[M]>): Promise<Result<Api[M]>> {
    if (this.#exitError) return Promise.reject(this.#exitError);
    const rpc = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(rpc, { resolve, reject });
      this.child.send({ rpc, method, params });
    });
  }

  on(notice: string, listener: (data: any) => void): () => void {
    const set = this.#listeners.get(notice) ?? new Set();
    this.#listeners.set(notice, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Resolves with the data of the next `notice`, or fails after `timeoutMs` or when the process exits. */
  next<T>(notice: string, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = () => finish(() => reject(this.#exitError ?? new Error(`${this.name} exited`)));
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.name}: no "${notice}" within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const off = this.on(notice, (data) => finish(() => resolve(data as T)));
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        off();
        this.child.off("exit", onExit);
        settle();
      };
      this.child.once("exit", onExit);
    });
  }

  cpuSeconds(): number | null {
    return cpuSeconds(this.child.pid);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
