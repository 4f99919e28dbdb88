#!/usr/bin/env node
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
