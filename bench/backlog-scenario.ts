import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import type { PreloadApi, PreloadResult } from "./backlog-preload.ts";
import { Worker } from "./child-process.ts";
import { cpuMeter } from "./cpu.ts";
import type { HooklineServer } from "./hookline-server.ts";
import { HOOKLINE_INGEST, ingestFigure, ingestProblems, measureIngest } from "./ingest-scenarios.ts";
import { check, type Figure, inParallel, type Scenario, type ScenarioResult, sleep, target } from "./scenario.ts";
import { formatCount, round } from "./stats.ts";

const TARGET = "idle CPU < 2 %, RSS < 300 MB, S1 within 20 % of an empty store";
const ENDPOINTS = 100;
const BACKLOG_TYPE = "bench.backlog";
const MB = 2 ** 20;

/**
 * S6, backlog: 1,000,000 deliveries scheduled for later, then (1) the idle
 * server's CPU and RSS and (2) S1's ingest with that store, against S1 on an
 * empty store.
 *
 * The API cannot schedule a delivery for later; Hookline does so itself after
 * a failed attempt. So the backlog is a second account (made with the admin
 * key) with 100 endpoints subscribed to one event type, retry schedule ["1h"],
 * whose deliveries are brought, through the server's own store code, into the
 * state a 500 on the first attempt leaves them in (see backlog-preload.ts):
 * pending, one failed attempt recorded, next attempt in 1 h. S1's events go to
 * the Default account, which has no endpoints, exactly as in S1.
 */
export const s6: Scenario = {
  name: "S6",
  title: "backlog: deliveries scheduled for later",
  target: TARGET,
  async run(ctx) {
    const { options } = ctx;
    const problems: string[] = [];
    const notes: string[] = [];
    const eventsNeeded = Math.max(1, Math.ceil(options.backlog / ENDPOINTS));
    const deliveries = eventsNeeded * ENDPOINTS;
    // After the restart, give the server this long before its idle CPU is measured.
    const settleMs = options.quick ? 500 : 2000;

    // The reference: S1 on an empty store, from this run's S1 when there is one.
    let empty: Figure;
    const s1 = ctx.previous.get("S1");
    if (s1?.status === "ok" && s1.hookline && options.quick) {
      empty = s1.hookline;
      notes.push("empty-store reference: S1 of this run (quick mode does not measure it again)");
    } else {
      const server = await ctx.startHookline("S6-empty");
      try {
        const run = await measureIngest(ctx, server, "S6/empty store");
        problems.push(...ingestProblems("empty store", run.result));
        empty = ingestFigure(`${HOOKLINE_INGEST}, empty store`, run.result, run.cpu);
      } finally {
        await server.stop();
      }
      notes.push("empty-store reference: S1's load on a fresh server, measured just before the backlog was built");
    }

    // 1. A fresh server: the backlog account and its endpoints, through the API.
    const adminKey = `hl_admin_bench${randomBytes(16).toString("hex")}`;
    const first = await ctx.startHookline("S6-setup", { HOOKLINE_ADMIN_KEY: adminKey });
    let backlogKey: string;
    try {
      const account = await first.api("POST", "/v1/accounts", { name: "backlog" }, adminKey);
      if (account.status !== 201) throw new Error(`creating the backlog account got ${account.status}`);
      backlogKey = account.body.keys.test as string;
      await inParallel(
        Array.from({ length: ENDPOINTS }, (_, i) => i),
        8,
        async (i) => {
          const response = await first.api(
            "POST",
            "/v1/endpoints",
            { url: `${ctx.receiverUrl}/ok/backlog/${i}`, event_types: [BACKLOG_TYPE], retry_schedule: ["1h"] },
            backlogKey,
          );
          if (response.status !== 201) throw new Error(`creating an endpoint got ${response.status}`);
        },
      );
    } finally {
      await first.stop({ keepData: true });
    }

    // 2. The backlog, in the stopped server's data dir.
    const worker = new Worker<PreloadApi>(
      "backlog preload",
      fileURLToPath(new URL("./backlog-preload.ts", import.meta.url)),
    );
    let preload: PreloadResult;
    const preloadStarted = performance.now();
    try {
      await worker.next("ready");
      const off = worker.on("progress", (data: { phase: string; done: number; total: number }) =>
        ctx.progress(`S6/backlog  ${data.phase} ${formatCount(data.done)}/${formatCount(data.total)}`),
      );
      preload = await worker.call("preload", {
        dataDir: first.dataDir,
        key: backlogKey,
        events: eventsNeeded,
        eventType: BACKLOG_TYPE,
        eventsPerCommit: 5000,
        claimsPerCycle: 20_000,
        perEndpoint: 20_000 / ENDPOINTS,
      });
      off();
    } finally {
      await worker.stop();
    }
    const preloadS = round((performance.now() - preloadStarted) / 1000, 1);
    ctx.log(
      `S6: backlog of ${formatCount(preload.deliveries)} deliveries built in ${preloadS} s (ingest ${round(preload.ingestMs / 1000, 1)} s, failed first attempts ${round(preload.attemptsMs / 1000, 1)} s)`,
    );
    if (preload.deliveries !== deliveries || preload.failedAttempts !== deliveries) {
      problems.push(
        `backlog: expected ${deliveries} deliveries, the store made ${preload.deliveries} and recorded ${preload.failedAttempts} failed attempts`,
      );
    }

    // 3. The same data dir, restarted: idle CPU and RSS, then S1's load.
    await ctx.receiver.call("reset", null);
    const server = await ctx.startHookline("S6", {}, { dataDir: first.dataDir, testKey: first.testKey });
    let idle: { cpuPercent: number | null; rssBytes: number | null };
    let afterLoadRss: ReturnType<HooklineServer["memory"]>;
    let withBacklog: Figure;
    const details: Record<string, unknown> = {};
    try {
      details.startMs = round(server.startMs, 1);
      await sleep(settleMs);
      const meter = cpuMeter(() => server.cpuSeconds());
      meter.start();
      for (let waited = 0; waited < options.idleMs; waited += 1000) {
        ctx.progress(`S6/idle  ${waited / 1000}/${options.idleMs / 1000} s`);
        await sleep(Math.min(1000, options.idleMs - waited));
      }
      const idleCpu = meter.stop();
      idle = { cpuPercent: idleCpu.percent, rssBytes: server.memory()?.rssBytes ?? null };
      details.idleMachineCpuPercent = idleCpu.machinePercent;

      const backlog = await inspectBacklog(server, backlogKey, preload);
      details.backlog = backlog;
      if (backlog.pendingLater !== null && backlog.pendingLater !== deliveries) {
        problems.push(`backlog: ${backlog.pendingLater} of ${deliveries} deliveries are pending for later`);
      }
      for (const [id, sample] of Object.entries(backlog.apiSample)) {
        if (sample !== "ok") problems.push(`backlog: the API shows event ${id}'s deliveries as ${sample}`);
      }

      const run = await measureIngest(ctx, server, "S6/with backlog");
      problems.push(...ingestProblems("with backlog", run.result));
      withBacklog = ingestFigure(
        `${HOOKLINE_INGEST}, ${formatCount(deliveries)} deliveries in the store`,
        run.result,
        run.cpu,
      );
      afterLoadRss = server.memory();
      const ledger = await ctx.receiver.call("ledger", null);
      if (ledger.requests > 0)
        problems.push(`the receiver got ${ledger.requests} requests: part of the backlog went out`);
    } finally {
      const exit = await server.stop();
      if (exit !== 0) notes.push(`the Hookline server exited with ${exit} when stopped`);
    }

    const rssMb = idle.rssBytes === null ? null : round(idle.rssBytes / MB, 1);
    const loadRssMb = afterLoadRss ? round(afterLoadRss.rssBytes / MB, 1) : null;
    const peakMb = afterLoadRss ? round(afterLoadRss.peakRssBytes / MB, 1) : null;
    const r = withBacklog.eventsPerS && empty.eventsPerS ? round(withBacklog.eventsPerS / empty.eventsPerS, 3) : null;
    notes.push(
      `backlog: ${formatCount(preload.events)} events × ${ENDPOINTS} endpoints (second account, retry ["1h"]) = ${formatCount(preload.deliveries)} deliveries, each with one failed attempt (500) recorded through the server's store code and its next attempt in ${round((preload.nextAttemptInMs?.min ?? 0) / 60_000)}–${round((preload.nextAttemptInMs?.max ?? 0) / 60_000)} min; built in ${preloadS} s`,
      `server restart on that store: listening after ${formatCount(server.startMs)} ms; idle CPU measured over ${options.idleMs / 1000} s after ${settleMs / 1000} s; RSS ${rssMb} MB idle, ${loadRssMb} MB after S1's load (peak ${peakMb} MB)`,
    );
    const hookline: Figure = {
      ...withBacklog,
      details: {
        ...withBacklog.details,
        ...details,
        idleCpuPercent: idle.cpuPercent,
        idleRssMb: rssMb,
        afterLoadRssMb: loadRssMb,
        peakRssMb: peakMb,
        preload,
        preloadS,
      },
    };
    const result: Omit<ScenarioResult, "elapsedS"> = {
      name: "S6",
      title: `backlog: ${formatCount(deliveries)} deliveries scheduled for later (1 h); idle server, then S1's load (${options.durationMs / 1000} s)`,
      status: problems.length ? "FAILED" : "ok",
      hookline,
      ceiling: empty,
      ratio: r,
      display: {
        hookline: `S1 ${formatCount(withBacklog.eventsPerS)} events/s; idle CPU ${idle.cpuPercent ?? "–"}%, RSS ${rssMb ?? "–"} MB`,
        ceiling: `S1 empty store ${formatCount(empty.eventsPerS)} events/s`,
      },
      latency: withBacklog.latency,
      target: target(TARGET, [
        check("idle CPU", idle.cpuPercent, "<", 2, "% of a core"),
        check("RSS idle", rssMb, "<", 300, "MB"),
        check("RSS after S1's load", loadRssMb, "<", 300, "MB"),
        check("S1 with backlog / empty", r, "≥", 0.8, "×"),
      ]),
      ledger: null,
      problems,
      notes,
    };
    return result;
  },
};

/**
 * Checks the backlog on the running server: a sample through the API (every
 * delivery pending, one attempt, next attempt later), and a read-only count.
 */
async function inspectBacklog(server: HooklineServer, key: string, preload: PreloadResult) {
  const now = Date.now();
  const apiSample: Record<string, string> = {};
  for (const id of preload.sampleEventIds) {
    // One page holds them all (ENDPOINTS ≤ 250, the most a page gives).
    const response = await server.api("GET", `/v1/events/${id}/deliveries?limit=${ENDPOINTS}`, undefined, key);
    const list = (response.body?.data ?? []) as {
      status: string;
      attempt_count: number;
      next_attempt_at: string | null;
    }[];
    const ok =
      response.status === 200 &&
      list.length === ENDPOINTS &&
      list.every((d) => d.status === "pending" && d.attempt_count === 1 && Date.parse(d.next_attempt_at ?? "") > now);
    apiSample[id] = ok ? "ok" : `${response.status} ${JSON.stringify(list[0] ?? null)} (${list.length} deliveries)`;
  }
  let pendingLater: number | null = null;
  let countError: string | null = null;
  try {
    const db = new DatabaseSync(join(server.dataDir, "hookline.db"), { readOnly: true });
    try {
      const row = db
        .prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'pending' AND next_attempt_at > ?")
        .get(now) as { n: number };
      pendingLater = Number(row.n);
    } finally {
      db.close();
    }
  } catch (error) {
    countError = (error as Error).message;
  }
  return { apiSample, pendingLater, countError };
}
