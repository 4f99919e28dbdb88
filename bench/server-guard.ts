/**
 * Loaded into the Hookline server process with `node --import` (the server's
 * own code is untouched). bench/run.ts starts the server with an IPC channel;
 * when that channel closes — the benchmark ended or was killed, even with
 * SIGKILL — the server gets SIGTERM and shuts down gracefully, so no server
 * is ever left running.
 */
if (process.channel) {
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
  // Listening for "disconnect" refs the channel; the server's own life must not depend on it.
  process.channel.unref();
}
