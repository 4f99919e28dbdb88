import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";
import { printedKeys, spawnServer } from "./helpers/process.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const run = promisify(execFile);

/** Runs the `hookline` command; resolves with exit code and output instead of throwing. */
async function hookline(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("hookline command line", () => {
  let h: TestHookline;
  let receiver: Receiver;
  let env: Record<string, string>;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_RETRY_SCHEDULE: "1h" });
    receiver = await startReceiver(answer(500));
    env = { HOOKLINE_API_URL: h.url, HOOKLINE_API_KEY: h.keys.test };
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("creates and lists endpoints, sends an event, retries a delivery", async () => {
    const created = await hookline(["endpoints", "create", "--url", receiver.url, "--event-types", "a.b,c.d"], env);
    assert.equal(created.code, 0, created.stderr);
    const endpoint = JSON.parse(created.stdout);
    assert.deepEqual(endpoint.event_types, ["a.b", "c.d"]);

    const listed = await hookline(["endpoints", "list"], env);
    assert.equal(JSON.parse(listed.stdout).data[0].id, endpoint.id);

    const sent = await hookline(["events", "send", "--type", "a.b", "--data", '{"amount":3}'], env);
    assert.equal(sent.code, 0, sent.stderr);
    const event = JSON.parse(sent.stdout);
    assert.deepEqual(event.data, { amount: 3 });
    await receiver.waitFor(1);

    const deliveryId = await eventually(async () => {
      const list = await h.test.get(`/v1/events/${event.id}/deliveries`);
      return list.body.data[0]?.attempt_count === 1 ? (list.body.data[0].id as string) : undefined;
    });
    receiver.respondWith(answer(200));
    const retried = await hookline(["deliveries", "retry", deliveryId], env);
    assert.equal(retried.code, 0, retried.stderr);
    await receiver.waitFor(2);
    await eventually(async () =>
      (await h.test.get(`/v1/deliveries/${deliveryId}`)).body.status === "succeeded" ? true : undefined,
    );

    const deleted = await hookline(["endpoints", "delete", endpoint.id], env);
    assert.equal(deleted.code, 0);
    assert.match(deleted.stdout, /deleted ep_/);
  });

  it("triggers a TEST event from the catalog's sample, and walks pending deliveries with retry --pending", async () => {
    const triggered = await hookline(["trigger", "deposit.confirmed"], env);
    assert.equal(triggered.code, 0, triggered.stderr);
    const event = JSON.parse(triggered.stdout);
    assert.equal(event.type, "deposit.confirmed");
    assert.equal(event.environment, "test");
    assert.equal(event.data.asset, "ETH", "the catalog's sample data");
    const own = await hookline(["trigger", "deposit.confirmed", "--data", '{"amount":"1"}'], env);
    assert.deepEqual(JSON.parse(own.stdout).data, { amount: "1" });

    const live = await hookline(["trigger", "deposit.confirmed"], { ...env, HOOKLINE_API_KEY: h.keys.live });
    assert.equal(live.code, 1);
    assert.match(live.stderr, /use a TEST key/);
    const unknown = await hookline(["trigger", "no.such.type"], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no\.such\.type/);

    const walked = await hookline(["deliveries", "retry", "--pending"], env);
    assert.equal(walked.code, 0, walked.stderr);
    assert.equal(typeof JSON.parse(walked.stdout).retried, "number");
    const listed = await hookline(["event-types", "list"], env);
    assert.ok(JSON.parse(listed.stdout).data.some((t: { name: string }) => t.name === "transfer.completed"));
  });

  it("creates accounts with the admin key", async () => {
    const created = await hookline(["accounts", "create", "--name", "Acme"], {
      ...env,
      HOOKLINE_API_KEY: h.keys.admin,
    });
    assert.equal(created.code, 0, created.stderr);
    assert.match(JSON.parse(created.stdout).keys.test, /^hl_test_/);
  });

  it("says plainly what is wrong and exits non-zero", async () => {
    const noKey = await hookline(["endpoints", "list"], { HOOKLINE_API_URL: h.url, HOOKLINE_API_KEY: "" });
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /no API key/);
    const badData = await hookline(["events", "send", "--type", "x", "--data", "[1]"], env);
    assert.equal(badData.code, 1);
    assert.match(badData.stderr, /--data must be a JSON object/);
    const apiError = await hookline(["deliveries", "retry", "dlv_nothing"], env);
    assert.equal(apiError.code, 1);
    assert.match(apiError.stderr, /No delivery with id dlv_nothing/);
    const unreachable = await hookline(["endpoints", "list"], { ...env, HOOKLINE_API_URL: "http://127.0.0.1:9" });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach Hookline/);
  });

  it("has --help on every command", async () => {
    for (const args of [
      [],
      ["serve"],
      ["events", "send"],
      ["endpoints", "create"],
      ["endpoints", "list"],
      ["deliveries", "retry"],
      ["migrate"],
    ]) {
      const help = await hookline([...args, "--help"]);
      assert.equal(help.code, 0, `${args.join(" ")} --help`);
      assert.match(help.stdout, /Usage: hookline/);
    }
  });
});

describe("hookline migrate", () => {
  it("brings the embedded store up to date and exits; a role other than all needs PostgreSQL", async () => {
    const dir = tempDir();
    try {
      const migrated = await hookline(["migrate", "--data-dir", dir.path]);
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.match(migrated.stdout, /Migrations applied: the embedded store in .* is up to date/);
      assert.ok(existsSync(join(dir.path, "hookline.db")));
      const worker = await hookline(["serve", "--role", "worker", "--data-dir", dir.path]);
      assert.equal(worker.code, 1);
      assert.match(worker.stderr, /role worker needs PostgreSQL/);
    } finally {
      dir.remove();
    }
  });
});

describe("hookline serve", () => {
  it("prints the URL, an admin key and a TEST key with a curl example on first start only", async () => {
    const dir = tempDir();
    try {
      const first = await spawnServer(dir.path);
      const keys = printedKeys(first.stdout());
      assert.match(keys.admin, /^hl_admin_/);
      assert.match(keys.test, /^hl_test_/);
      assert.match(first.stdout(), /curl -X POST http:\/\/127\.0\.0\.1:\d+\/v1\/events/);
      first.child.kill("SIGTERM");
      assert.equal(await first.exited, 0);

      const second = await spawnServer(dir.path);
      assert.doesNotMatch(second.stdout(), /hl_admin_/);
      const accounts = await fetch(`${second.url}/v1/accounts`, { headers: { authorization: `Bearer ${keys.admin}` } });
      assert.equal(accounts.status, 200, "the admin key of the first start still works");
      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0);
    } finally {
      dir.remove();
    }
  });

  it("exits non-zero with a clear message when the port is taken or the data dir is unusable", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = tempDir();
    try {
      const taken = await hookline(["serve", "--port", String(port), "--data-dir", dir.path]);
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, /port is already in use/);
      // A first start that cannot bind its port has made its keys already: it shows them, and
      // they work on the next start (they are shown only once).
      const keys = printedKeys(taken.stdout);
      assert.match(keys.admin, /^hl_admin_/);
      const next = await spawnServer(dir.path);
      try {
        assert.doesNotMatch(next.stdout(), /hl_admin_/);
        const accounts = await fetch(`${next.url}/v1/accounts`, { headers: { authorization: `Bearer ${keys.admin}` } });
        assert.equal(accounts.status, 200, "the admin key shown by the failed start works");
        const events = await fetch(`${next.url}/v1/events`, { headers: { authorization: `Bearer ${keys.test}` } });
        assert.equal(events.status, 200, "so does its TEST key");
      } finally {
        next.child.kill("SIGTERM");
        await next.exited;
      }
      const notADirectory = join(dir.path, "a-file");
      writeFileSync(notADirectory, "");
      const unusable = await hookline(["serve", "--port", "0", "--data-dir", join(notADirectory, "data")]);
      assert.equal(unusable.code, 1);
      assert.match(unusable.stderr, /cannot open the data directory/);
      const badConfig = await hookline(["serve", "--port", "0", "--data-dir", dir.path], {
        HOOKLINE_ATTEMPT_TIMEOUT: "soon",
      });
      assert.equal(badConfig.code, 1);
      assert.match(badConfig.stderr, /HOOKLINE_ATTEMPT_TIMEOUT/);
    } finally {
      blocker.close();
      dir.remove();
    }
  });
});
