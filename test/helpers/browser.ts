/**
 * Debian's Chromium through playwright-core, for the browser tests: where it
 * is, whether it is there (the tests skip with a message where it is not),
 * and how it is started here (headless, as root, with no background network:
 * this machine reaches no host but its own).
 */
import { existsSync } from 'node:fs'
import type { Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)

/** Warns once per test file that `what` is skipped when Chromium is absent. */
export function warnIfNoChromium (what: string): void {
  if (!hasChromium) console.warn(`${what} skipped: ${CHROMIUM} is absent (apt-get install chromium)`)
}

export async function launchChromium (): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync']
  })
}
