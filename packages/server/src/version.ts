import { readFileSync } from "node:fs";

/** The server package's version, sent in every request's user-agent. */
export const VERSION: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
