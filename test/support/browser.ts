import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (`apt-get install chromium`; scripts/test.sh installs it when missing). Playwright's own download is not used. */
export const CHROMIUM = process.env['OPTEX_CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * Whether the browser tests run: yes when chromium is there; without it they are skipped, except under `CI=true`
 * where they run and fail on the missing browser (a tier never passes by skipping under CI).
 */
export const browserAvailable = (): boolean => existsSync(CHROMIUM) || process.env['CI'] === 'true';

/**
 * Launches headless chromium with no background networking (the machine's network is closed). Playwright gives every
 * launch a fresh, temporary profile (it refuses a --user-data-dir argument) and removes it on close.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; scripts/test.sh does it as root) or set OPTEX_CHROMIUM`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
