#!/usr/bin/env -S node --max-semi-space-size=12
// V8 sizes the young generation from the machine's memory (64 MB on a 24 GiB machine) and keeps
// it full under load (S6: RSS 302–308 MB after load). 12 MB semi-spaces keep it at ~250–260 MB
// and gave S4 its lowest latency: 8 MB paused the HTTP thread for scavenges twice as often (S4
// p50 6.1–6.8 ms against 4.2–4.7), 24–32 MB gave 4.6–6.0 ms (docs/benchmarks.md). The image and
// the systemd unit pass the same flags.
// Plain JavaScript so that an old Node gets a clear message instead of a syntax error.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  console.error(
    `Hookline needs Node.js 24 or newer; this is ${process.version}.\n` +
      "Run it through npm in the project (npx hookline …, npm start): the project installs Node 24 as a dev dependency.",
  );
  process.exit(1);
}
await import("../src/main.ts");
