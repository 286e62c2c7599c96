/**
 * Headless Chromium for the page tests: Debian's `chromium` package (/usr/bin/chromium; CI
 * installs it), driven with playwright-core (no browser download). Where there is none,
 * `chromiumSkipReason` says why, and the tests that need a browser skip with that reason.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  (p): p is string => typeof p === 'string' && p.length > 0,
);

/** The Chromium binary, or null. */
export const chromiumPath: string | null = CANDIDATES.find((p) => existsSync(p)) ?? null;

/** Why the browser tests skip here (null: they run). */
export const chromiumSkipReason: string | null =
  chromiumPath === null
    ? "no Chromium: install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH"
    : null;

/** Set RINSE_KEEP_SCREENSHOTS=1 to keep the page tests' temp dirs (screenshots) after the run. */
export const keepScreenshots = process.env.RINSE_KEEP_SCREENSHOTS === '1';

/** What a test prints after a screenshot's path. */
export const screenshotFate = keepScreenshots ? 'kept' : 'removed after the run; RINSE_KEEP_SCREENSHOTS=1 keeps it';

/** A headless browser; close it when done. */
export function launchChromium(): Promise<Browser> {
  if (chromiumPath === null) throw new Error(chromiumSkipReason ?? 'no Chromium');
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in CI containers: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
}
