/**
 * A small request/reply protocol over Node's IPC channel, so the orchestrator
 * (run.ts) can drive the receiver and load-generator processes with typed calls.
 * A child process also pushes notices (readiness, progress) without being asked.
 */

/** An object whose methods each take one structured-clonable argument: what a process serves over IPC. */
export type RpcApi<T> = { [M in keyof T]: (params: any) => unknown };

export interface RpcCall {
  rpc: number;
  method: string;
  params: unknown;
}

export interface RpcReply {
  rpc: number;
  result?: unknown;
  error?: string;
}

export interface Notice {
  notice: string;
  data: unknown;
}

export function isRpcReply(message: unknown): message is RpcReply {
  return typeof message === "object" && message !== null && "rpc" in message && !("method" in message);
}

export function isNotice(message: unknown): message is Notice {
  return typeof message === "object" && message !== null && "notice" in message;
}

/**
 * Child side: answers calls with `handlers`. The process exits when the IPC
 * channel closes, so a child never outlives the orchestrator, even one killed
 * with SIGKILL.
 */
export function serveRpc<Api extends RpcApi<Api>>(handlers: Api, onExit: () => void = () => {}): void {
  if (!process.send) throw new Error("this process is meant to be started by bench/run.ts (it needs an IPC channel)");
  process.on("message", (message: RpcCall) => {
    if (typeof message !== "object" || message === null || !("method" in message)) return;
    const handler = (handlers as Record<string, ((params: unknown) => unknown) | undefined>)[message.method];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown method ${message.method}`);
        return handler(message.params);
      })
      .then(
        (result) => send({ rpc: message.rpc, result }),
        (error: unknown) => send({ rpc: message.rpc, error: (error as Error)?.stack ?? String(error) }),
      );
  });
  process.on("disconnect", () => {
    onExit();
    process.exit(0);
  });
}

/** Child side: tells the orchestrator something without being asked (e.g. "ready", "progress"). */
export function notify(notice: string, data: unknown = null): void {
  send({ notice, data } satisfies Notice);
}

function send(message: RpcReply | Notice) {
  // The channel may already be closing when the orchestrator is gone; nothing to tell then.
  if (process.connected) process.send?.(message);
}
