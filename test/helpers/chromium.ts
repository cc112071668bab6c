/**
 * Headless Chromium for tests that look at the HTML reports as a reader would: the Debian package's binary, driven by
 * playwright-core (no browser is ever downloaded), with a fresh profile per launch.
 *
 * MQBENCH_CHROMIUM names another binary. MQBENCH_REQUIRE_CHROMIUM=1 (set by CI) turns "skip when missing" into "fail
 * when missing".
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_INSTALL_HINT = 'install it with `apt-get install -y chromium` (the Debian package, /usr/bin/chromium) or set MQBENCH_CHROMIUM';

/** The Chromium binary to use, or undefined when there is none. */
export function findChromium(): string | undefined {
  const candidates = [process.env.MQBENCH_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p));
}

export const requireChromium = process.env.MQBENCH_REQUIRE_CHROMIUM === '1';

/** A browser with a fresh profile; `close` ends it and removes the profile. */
export async function launchChromium(executablePath: string, viewport: { width: number; height: number }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'mqbench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
    viewport,
    timeout: 30_000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Width and height of a PNG, from its IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.toString('latin1', 1, 4) !== 'PNG') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
