import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium (apt-get install chromium; .ci/run does it), or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium with the flags every browser test uses (no network of its own, no sandbox). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium is required at ${CHROMIUM} (apt-get install chromium; .ci/run does it)`,
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
