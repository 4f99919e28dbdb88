import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Debian's `chromium` package puts the browser (override with HOOKLINE_CHROMIUM). */
const CHROMIUM = process.env.HOOKLINE_CHROMIUM ?? "/usr/bin/chromium";

/** Screenshots for reviewers: test-output/dashboard/*.png at the repository root (not committed). */
export const SCREENSHOTS = fileURLToPath(new URL("../../../test-output/dashboard/", import.meta.url));

/**
 * Why the browser tests cannot run here, or null when they can. With
 * HOOKLINE_BROWSER_TESTS=required (set by .ci/run) a missing browser is a failure,
 * not a skip.
 */
export function browserUnavailable(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `Chromium not found at ${CHROMIUM}: dashboard browser tests SKIPPED (apt-get install -y chromium, or set HOOKLINE_CHROMIUM)`;
  if (process.env.HOOKLINE_BROWSER_TESTS === "required") throw new Error(reason);
  console.log(`# ${reason}`);
  return reason;
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** Saves a full-page screenshot named after the page shown. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

/** Runs `steps` on `page`; on failure saves FAILED-<name>.png first. Always closes the page's context. */
export async function using(page: Page, name: string, steps: () => Promise<void>): Promise<void> {
  try {
    await steps();
  } catch (error) {
    await screenshot(page, `FAILED-${name}`).catch(() => {});
    throw error;
  } finally {
    await page.context().close();
  }
}
