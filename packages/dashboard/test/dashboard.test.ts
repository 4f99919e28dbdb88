import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { deliveriesOf, deliveryWhen, newAccount } from "../../server/test/helpers/api.ts";
import { startTestHookline, type TestHookline } from "../../server/test/helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "../../server/test/helpers/receiver.ts";
import { browserUnavailable, launchBrowser, screenshot, using } from "./browser.ts";

const WAIT = { timeout: 15_000 };

/**
 * The dashboard in real Chromium against a real Hookline and real receivers on
 * loopback, driven the way a person would: by labels, roles and visible text.
 */
describe("dashboard in Chromium", { skip: browserUnavailable() ?? false }, () => {
  let h: TestHookline;
  let browser: Browser;
  let receiver: Receiver;

  before(async () => {
    h = await startTestHookline();
    receiver = await startReceiver(answer(200, "thanks"));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await h?.stop();
  });

  async function operatorPage(width = 1280): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${h.url}/`);
    await page.waitForURL(/\/login$/, WAIT);
    await page.getByLabel("Admin key").fill(h.keys.admin);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor(WAIT);
    return page;
  }

  async function addEndpoint(page: Page, url: string) {
    await page.getByLabel("URL").fill(url);
    await page.getByRole("button", { name: "Add endpoint" }).click();
  }

  it("operator: log in, create an account, set a TEST URL, send a test event, see it delivered", async () => {
    const page = await operatorPage();
    await using(page, "operator", async () => {
      assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, "nothing in web storage");
      await page.getByLabel("Account name").fill("Acme Wallets");
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByLabel("TEST key").waitFor(WAIT);
      assert.match(await page.getByLabel("TEST key").inputValue(), /^hl_test_[A-Za-z0-9]{32}$/);
      assert.match(await page.getByLabel("LIVE key").inputValue(), /^hl_live_[A-Za-z0-9]{32}$/);
      await screenshot(page, "accounts");

      await page.getByRole("link", { name: "Open Acme Wallets" }).first().click();
      await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor(WAIT);
      await page.getByText("No endpoints yet").waitFor(WAIT);
      await page.getByLabel("URL").fill(`${receiver.url}/webhooks`);
      await page.getByText("hookline listen").first().waitFor(WAIT);
      await page.getByRole("button", { name: "Add endpoint" }).click();

      await page.getByRole("button", { name: "Send test event" }).click();
      await page.getByText(/Delivered: 200/).waitFor(WAIT);
      assert.equal(receiver.requests.length, 1);
      assert.equal(JSON.parse(receiver.requests[0]?.body ?? "{}").type, "webhook.test");
      await screenshot(page, "endpoint");

      await page.getByRole("link", { name: /View test event/ }).click();
      await page.getByText("succeeded").first().waitFor(WAIT);
      await page.getByRole("list", { name: "Attempts" }).getByText("200").first().waitFor(WAIT);
      await page.getByText('"type": "webhook.test"').waitFor(WAIT);
      await screenshot(page, "event");

      await page.getByRole("link", { name: "Events" }).click();
      await page.getByRole("heading", { name: "Events", level: 1 }).waitFor(WAIT);
      await page.getByText("webhook.test").first().waitFor(WAIT);
      await screenshot(page, "events");
    });
  });

  it("a failing endpoint shows the failed attempt and the next retry; Retry now works once it is fixed", async () => {
    const failing = await startReceiver(answer(500, "database down"));
    try {
      const { id, test } = await newAccount(h, "Failing Co");
      const endpoint = (await test.post("/v1/endpoints", { url: `${failing.url}/hooks` })).body;
      const event = (await test.post("/v1/events", { type: "transfer.completed", data: { amount: "5" } })).body;
      await failing.waitFor(1);

      const page = await operatorPage();
      await using(page, "failing", async () => {
        await page.goto(`${h.url}/accounts/${id}/test/events/${event.id}`);
        await page.getByRole("list", { name: "Attempts" }).getByText("500", { exact: true }).waitFor(WAIT);
        await page.getByText("Response body").first().click();
        await page.getByText("database down").first().waitFor(WAIT);
        await page.getByText(/Next retry in (5\d min|1 h)/).waitFor(WAIT);
        await page.getByText(/attempt 2 of 73/).waitFor(WAIT);
        await page.getByText("pending").first().waitFor(WAIT);
        await screenshot(page, "event-failing");

        await page.goto(`${h.url}/accounts/${id}/test/endpoints/${endpoint.id}`);
        await page
          .getByText(/Failing/)
          .first()
          .waitFor(WAIT);
        await screenshot(page, "endpoint-failing");

        failing.respondWith(answer(200, "fixed"));
        await page.goto(`${h.url}/accounts/${id}/test/events/${event.id}`);
        await page.getByRole("button", { name: "Retry now" }).click();
        await page.getByText("succeeded").first().waitFor(WAIT);
        await page.getByRole("list", { name: "Attempts" }).getByText("200", { exact: true }).waitFor(WAIT);
        assert.equal(failing.requests.length, 2);
      });
    } finally {
      await failing.close();
    }
  });

  it("an event sent to more endpoints than one page shows: Load more brings the rest", async () => {
    const { id, test } = await newAccount(h, "Wide Co");
    for (let i = 0; i < 51; i++) {
      assert.equal((await test.post("/v1/endpoints", { url: `${receiver.url}/wide-${i}` })).status, 201);
    }
    const event = (await test.post("/v1/events", { type: "transfer.completed", data: { amount: "9" } })).body;

    const page = await operatorPage();
    await using(page, "event-many-deliveries", async () => {
      await page.goto(`${h.url}/accounts/${id}/test/events/${event.id}`);
      const cards = page.locator("article.card");
      await page.getByRole("button", { name: "Load more" }).waitFor(WAIT);
      assert.equal(await cards.count(), 50);
      await page.getByRole("button", { name: "Load more" }).click();
      // (The button reads "Loading…" meanwhile: wait for the card, not for the button to go.)
      await cards.nth(50).waitFor(WAIT);
      assert.equal(await cards.count(), 51);
      assert.equal(await page.getByRole("button", { name: /Load more|Loading/ }).count(), 0, "nothing more to load");
    });
  });

  it("a delivery whose endpoint was deleted says so instead of offering Retry now", async () => {
    const failing = await startReceiver(answer(500, "gone soon"));
    try {
      const { id, test } = await newAccount(h, "Deleted Co");
      const endpoint = (await test.post("/v1/endpoints", { url: `${failing.url}/hooks` })).body;
      const event = (await test.post("/v1/events", { type: "transfer.completed", data: { amount: "7" } })).body;
      const [delivery] = await deliveriesOf(test, event.id);
      assert.ok(delivery);
      await deliveryWhen(test, delivery.id, (d) => d.attempt_count === 1, "the first attempt recorded");
      assert.equal((await test.delete(`/v1/endpoints/${endpoint.id}`)).status, 204);

      const page = await operatorPage();
      await using(page, "deleted-endpoint", async () => {
        await page.goto(`${h.url}/accounts/${id}/test/events/${event.id}`);
        await page.getByText(`Deleted endpoint ${endpoint.id}`).waitFor(WAIT);
        await page.getByText(/Its endpoint was deleted, so this delivery can no longer be retried/).waitFor(WAIT);
        assert.equal(await page.getByRole("button", { name: "Retry now" }).count(), 0);
        await page.getByRole("list", { name: "Attempts" }).getByText("500", { exact: true }).waitFor(WAIT);
      });
    } finally {
      await failing.close();
    }
  });

  it("a LIVE localhost URL is refused in the form, with the reason", async () => {
    const { id } = await newAccount(h, "Live Co");
    const page = await operatorPage();
    await using(page, "live-refused", async () => {
      await page.goto(`${h.url}/accounts/${id}/test/endpoints`);
      await page.getByRole("radio", { name: "LIVE" }).check();
      await page.waitForURL(new RegExp(`/accounts/${id}/live/endpoints$`), WAIT);
      await page
        .getByText(/LIVE environment/)
        .first()
        .waitFor(WAIT);
      await addEndpoint(page, "http://localhost:3000/webhooks");
      await page.getByText(/live endpoints must use public addresses/).waitFor(WAIT);
      assert.equal(await page.getByLabel("URL").getAttribute("aria-invalid"), "true");
      await screenshot(page, "live-refused");
    });
  });

  it("a portal link opens its own account only, once, themed", async () => {
    const a = await newAccount(h, "Portal A");
    const b = await newAccount(h, "Portal B");
    await a.test.post("/v1/endpoints", { url: "http://127.0.0.1:9/a-hooks" });
    await b.test.post("/v1/endpoints", { url: "http://127.0.0.1:9/b-hooks" });
    const link = (
      await h.admin.post(`/v1/accounts/${a.id}/portal-link`, {
        theme: { product_name: "Acme Pay", accent_color: "#aa3300" },
      })
    ).body.url as string;

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await using(page, "portal", async () => {
      await page.goto(link);
      await page.waitForURL(/\/portal\/test\/endpoints$/, WAIT);
      await page.getByText("http://127.0.0.1:9/a-hooks").waitFor(WAIT);
      await page.getByText("Acme Pay").first().waitFor(WAIT);
      assert.ok(!page.url().includes("plt_"), "the token is gone from the address bar");
      assert.equal(await page.getByText("b-hooks").count(), 0);
      assert.equal(await page.getByRole("link", { name: "Accounts" }).count(), 0, "no operator navigation");
      await screenshot(page, "portal");

      // The operator's pages, with B's id, show nothing of B.
      await page.goto(`${h.url}/accounts/${b.id}/test/endpoints`);
      await page.waitForTimeout(500);
      assert.equal(await page.getByText("b-hooks").count(), 0);
    });

    const again = await (await browser.newContext()).newPage();
    await using(again, "portal-reused", async () => {
      await again.goto(link);
      await again.getByText(/invalid, expired or already used/).waitFor(WAIT);
    });
  });

  it("saving an edit sends only what was edited: a Disable clicked meanwhile stays", async () => {
    const { id, test } = await newAccount(h, "Edit Co");
    const endpoint = (await test.post("/v1/endpoints", { url: "http://127.0.0.1:9/edit" })).body;
    const page = await operatorPage();
    await using(page, "edit", async () => {
      await page.goto(`${h.url}/accounts/${id}/test/endpoints/${endpoint.id}`);
      await page.getByLabel("Description").fill("payments webhook");
      await page.getByRole("button", { name: "Disable" }).click();
      await page.getByRole("button", { name: "Enable" }).waitFor(WAIT);
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByText("payments webhook").first().waitFor(WAIT);
      const saved = (await test.get(`/v1/endpoints/${endpoint.id}`)).body;
      assert.equal(saved.description, "payments webhook");
      assert.equal(saved.enabled, false);
      await page.getByText(/This endpoint is disabled/).waitFor(WAIT);
    });
  });

  it("is readable at 360 px: nothing wider than the screen", async () => {
    const { id } = await newAccount(h, "Narrow Co");
    const page = await operatorPage(360);
    await using(page, "narrow", async () => {
      await page.goto(`${h.url}/accounts/${id}/test/endpoints`);
      await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor(WAIT);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `page is ${width} px wide at a 360 px viewport`);
      await screenshot(page, "endpoints-360px");
    });
  });
});
