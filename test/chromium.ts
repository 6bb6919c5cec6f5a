/**
 * Debian's Chromium (`apt-get install chromium`), headless, for end-to-end tests and benches: nothing
 * is downloaded, and background work Chromium would do on its own is off so timings are the page's.
 */
import { chromium } from "playwright-core";

const CHROMIUM_PATH = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const launchChromium = (extraArgs: string[] = []) =>
  chromium.launch({ executablePath: CHROMIUM_PATH, args: [...ARGS, ...extraArgs] });
