/**
 * What every end-to-end file needs: Debian's Chromium, and a person signed up in a browser context
 * of their own (a fresh context per person, so nothing is shared between them but the server).
 */
import type { Browser, Page } from "playwright-core";

export { launchChromium } from "../test/chromium.ts";

export const PASSWORD = "correct horse battery";
const run = `${process.pid}-${Date.now()}`;

/** Register `name` through the app's own sign-up form and land on their (empty) board list. */
export async function signUp(browser: Browser, baseUrl: string, name: string) {
  // Retina-sharp only when the README screenshot is being taken.
  const deviceScaleFactor = process.env.TRELLIS_SCREENSHOT ? 2 : 1;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const email = `${name.split(" ")[0]!.toLowerCase()}-${run}@example.com`;
  await page.goto(baseUrl);
  await page.getByTestId("to-register").click();
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await page.getByTestId("auth-submit").click();
  await page.getByTestId("new-board-name").waitFor();
  return { page, email, name, errors };
}

/**
 * Log in through the app's own form, in a fresh browser context, and land on the board list. Page
 * errors fail the test (the board must not throw while someone uses it).
 */
export async function logIn(browser: Browser, baseUrl: string, email: string, password = PASSWORD): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    throw new Error(`page error: ${e.message}`);
  });
  await page.goto(baseUrl);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.getByTestId("auth-submit").click();
  await page.getByTestId("new-board-name").waitFor();
  return page;
}
