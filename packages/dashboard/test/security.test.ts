import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { newAccount } from "../../server/test/helpers/api.ts";
import { eventually } from "../../server/test/helpers/client.ts";
import { startTestHookline, type TestHookline } from "../../server/test/helpers/hookline.ts";
import { type Receiver, startReceiver } from "../../server/test/helpers/receiver.ts";
import { browserUnavailable, launchBrowser, screenshot, using } from "./browser.ts";

const WAIT = { timeout: 15_000 };

/** Markup that runs script if it is ever parsed as HTML: each sets window.__xss. No double quotes, so JSON shows it as is. */
const IMG = "<img src=x onerror=window.__xss=1>";
const SCRIPT = "<script>window.__xss=1</script>";
const SVG = "<svg onload=window.__xss=1></svg>";
const JS_URL = "javascript:window.__xss=1";
/** Closes the element the text is shown in, then injects. */
const BREAKOUT = "</pre></span></h1><img src=x onerror=window.__xss=1>";

/** Every *.ts / *.tsx file under a folder. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

describe("the dashboard never turns data into markup", () => {
  it("no dangerouslySetInnerHTML, innerHTML, outerHTML, insertAdjacentHTML or document.write in the source", () => {
    const src = fileURLToPath(new URL("../src/", import.meta.url));
    const files = sourceFiles(src);
    assert.ok(files.length > 10, `found the sources in ${src}`);
    const sinks =
      /dangerouslySetInnerHTML|\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|new Function\(|\beval\(/;
    const found = files.filter((file) => sinks.test(readFileSync(file, "utf8")));
    assert.deepEqual(found, []);
  });
});

/**
 * Hostile text in every field a user or a receiver controls, shown by every page
 * that shows it, in real Chromium. The pages are opened with the Content-Security-
 * Policy bypassed, so that React's escaping alone is under test (the CSP, checked
 * to be sent, is the second wall): an injected handler would run and set
 * window.__xss, and would leave elements the page never makes.
 */
describe("XSS through payloads, names, descriptions and receivers' responses", {
  skip: browserUnavailable() ?? false,
}, () => {
  let h: TestHookline;
  let browser: Browser;
  let receiver: Receiver;
  let account: Awaited<ReturnType<typeof newAccount>>;
  let endpointId: string;
  let eventId: string;
  let portalLink: string;
  const accountName = `${IMG} Acme ${SCRIPT}`;
  const description = `${SVG} ${JS_URL} ${BREAKOUT}`;
  const productName = `${IMG}Pay`;
  const responseBody = `<!doctype html><html><body>${SCRIPT}${IMG}<a href="${JS_URL}">click</a></body></html>`;

  before(async () => {
    h = await startTestHookline();
    // A receiver answering HTML that would run script, were it ever rendered as HTML.
    receiver = await startReceiver((_request, res) => {
      res.statusCode = 200;
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(responseBody);
    });
    browser = await launchBrowser();
    const type = await h.admin.post("/v1/event-types", {
      name: "xss.probe",
      description: `${IMG} ${SCRIPT}`,
      example: { [IMG]: SCRIPT },
    });
    assert.equal(type.status, 201, JSON.stringify(type.body));
    account = await newAccount(h, accountName);
    const endpoint = await account.test.post("/v1/endpoints", {
      url: `${receiver.url}/hooks?q=${IMG}`,
      description,
      event_types: ["xss.probe"],
    });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    endpointId = endpoint.body.id;
    const event = await account.test.post("/v1/events", {
      type: "xss.probe",
      data: {
        [IMG]: SCRIPT,
        link: JS_URL,
        html: `<a href="${JS_URL}">click</a>`,
        nested: { [BREAKOUT]: [SVG, { ["__proto__"]: IMG }] },
        type: SCRIPT,
      },
    });
    assert.equal(event.status, 202, JSON.stringify(event.body));
    eventId = event.body.id;
    await eventually(
      async () => {
        const deliveries = (await account.test.get(`/v1/events/${eventId}/deliveries`)).body.data;
        return deliveries[0]?.status === "succeeded" ? true : undefined;
      },
      10_000,
      "the probe's delivery",
    );
    const link = await h.admin.post(`/v1/accounts/${account.id}/portal-link`, { theme: { product_name: productName } });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    portalLink = link.body.url;
  });
  after(async () => {
    await browser?.close();
    await receiver?.close();
    await h?.stop();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    return context.newPage();
  }

  async function operatorPage(): Promise<Page> {
    const page = await newPage();
    const response = await page.goto(`${h.url}/login`);
    // The real policy is sent (this context ignores it, to test the rendering alone).
    const policy = response?.headers()["content-security-policy"] ?? "";
    assert.match(policy, /default-src 'self'/);
    assert.doesNotMatch(policy, /script-src[^;]*'unsafe-inline'/);
    await page.getByLabel("Admin key").fill(h.keys.admin);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Accounts", level: 1 }).waitFor(WAIT);
    return page;
  }

  /** Nothing ran, and the DOM holds nothing the page did not make itself. */
  async function assertInert(page: Page, where: string) {
    const found = await page.evaluate(() => {
      const elements = [...document.querySelectorAll("*")];
      return {
        xss: (window as unknown as { __xss?: unknown }).__xss,
        injected: document.querySelectorAll('img[src="x"], svg[onload], iframe, object, embed').length,
        inlineScripts: [...document.scripts].filter((script) => !script.src).length,
        handlers: elements.flatMap((element) =>
          [...element.attributes].filter((a) => a.name.startsWith("on")).map((a) => `${element.tagName} ${a.name}`),
        ),
        scriptUrls: [...document.querySelectorAll("[href], [src], [action], [formaction]")]
          .flatMap((element) => ["href", "src", "action", "formaction"].map((name) => element.getAttribute(name) ?? ""))
          .filter((url) => /^\s*javascript:/i.test(url)),
      };
    });
    assert.deepEqual(found, { xss: undefined, injected: 0, inlineScripts: 0, handlers: [], scriptUrls: [] }, where);
  }

  it("operator: accounts list, endpoints, endpoint page, events, event detail with its attempt log", async () => {
    const page = await operatorPage();
    await using(page, "xss-operator", async () => {
      await page.getByRole("heading", { name: accountName, level: 3 }).waitFor(WAIT);
      await assertInert(page, "accounts list");

      await page.goto(`${h.url}/accounts/${account.id}/test/endpoints`);
      await page.getByText(description).first().waitFor(WAIT);
      await page.getByText(`${receiver.url}/hooks?q=`).first().waitFor(WAIT);
      await page.getByText(accountName).first().waitFor(WAIT);
      await assertInert(page, "endpoints list");

      await page.goto(`${h.url}/accounts/${account.id}/test/endpoints/${endpointId}`);
      await page.getByRole("heading", { level: 1 }).getByText(`${receiver.url}/hooks?q=`).waitFor(WAIT);
      await page.getByText(description).first().waitFor(WAIT);
      // The catalog's description, in the event-type filter.
      await page.getByText(`${IMG} ${SCRIPT}`).first().waitFor(WAIT);
      await assertInert(page, "endpoint page");

      await page.goto(`${h.url}/accounts/${account.id}/test/events`);
      await page.getByText("xss.probe").first().waitFor(WAIT);
      await assertInert(page, "events list");

      await page.goto(`${h.url}/accounts/${account.id}/test/events/${eventId}`);
      const payload = page.locator("pre.code-block").first();
      await payload.getByText(`"${IMG}": "${SCRIPT}"`).waitFor(WAIT);
      await payload.getByText(`"link": "${JS_URL}"`).waitFor(WAIT);
      await payload.getByText(BREAKOUT).waitFor(WAIT);
      await payload.getByText(`"__proto__": "${IMG}"`).waitFor(WAIT);
      const attempts = page.getByRole("list", { name: "Attempts" });
      await attempts.getByText("200", { exact: true }).first().waitFor(WAIT);
      await attempts.getByText("Response body").first().click();
      await attempts.getByText(SCRIPT).first().waitFor(WAIT);
      assert.equal(await attempts.locator("pre").first().textContent(), responseBody, "the response, as text");
      await screenshot(page, "xss-event");
      await assertInert(page, "event detail and attempt log");
    });
  });

  it("portal: the themed header, endpoints, endpoint page and event detail", async () => {
    const page = await newPage();
    await using(page, "xss-portal", async () => {
      await page.goto(portalLink);
      await page.waitForURL(/\/portal\/test\/endpoints$/, WAIT);
      await page.getByText(description).first().waitFor(WAIT);
      await page.getByText(productName).first().waitFor(WAIT);
      await page.getByText(accountName).first().waitFor(WAIT);
      assert.equal(await page.title(), productName, "the product name, as the title's text");
      await assertInert(page, "portal endpoints");

      await page.goto(`${h.url}/portal/test/endpoints/${endpointId}`);
      await page.getByText(description).first().waitFor(WAIT);
      await assertInert(page, "portal endpoint page");

      await page.goto(`${h.url}/portal/test/events/${eventId}`);
      await page.locator("pre.code-block").first().getByText(`"${IMG}": "${SCRIPT}"`).waitFor(WAIT);
      await page.getByRole("list", { name: "Attempts" }).getByText("Response body").first().click();
      await page.getByRole("list", { name: "Attempts" }).getByText(SCRIPT).first().waitFor(WAIT);
      await screenshot(page, "xss-portal-event");
      await assertInert(page, "portal event detail");
    });
  });
});
