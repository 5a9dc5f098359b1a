/**
 * The status page as a person sees it: `GET /status` in headless Chromium (Debian's `chromium`,
 * driven by playwright-core) over the bundled config (its tiers have SLOs), while the official
 * `openai` client sends traffic: the page loads, its figures change as requests are served, the
 * percentiles are judged against the SLO, and a screenshot is written to
 * bench/results/status-page.png. Skipped, saying so, only where no Chromium binary exists
 * (`.ci/run` installs Debian's `chromium` when it is missing).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../local/stack/synth.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile, startLocal } from '../../local/start-local.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

/** The Chromium binary on PATH (Debian's `chromium`), if any. */
function chromiumBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      const file = join(dir, name);
      if (dir && existsSync(file)) return file;
    }
  }
  return undefined;
}

const CHROMIUM = chromiumBinary();
const SCREENSHOT = join(REPO_ROOT, 'bench', 'results', 'status-page.png');

if (!CHROMIUM) process.stderr.write('status page test SKIPPED: no Chromium binary on PATH (apt-get install chromium; .ci/run installs it)\n');

const text = (page: Page, selector: string) => page.locator(selector).first().textContent({ timeout: 10_000 });

describe.skipIf(!CHROMIUM)('the status page in headless Chromium', () => {
  let local: LocalGateway;
  let browser: Browser;
  let client: OpenAI;

  beforeAll(async () => {
    const config = await loadConfigFile(DEFAULT_CONFIG_PATH);
    local = await startLocal({ config, port: 0, logger: silentLogger });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: config.tenants[0]!.apiKeys[0]!, maxRetries: 0 });
    // Running as root (CI) needs Chromium's sandbox off.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await local?.close();
  });

  it('loads, shows figures that change as traffic flows, judged against the SLO, and is screenshotted', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 640 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${local.url}/status`);
    const requests = '[data-tier="priority"] [data-field="requests"]';
    expect(await text(page, requests)).toBe('0');
    expect(await text(page, '[data-tier="priority"] [data-field="verdict"]')).toBe('no traffic');
    expect(await text(page, '[data-tier="priority"] [data-field="ttft-p50"]')).toBe('–');
    const firstUpdate = await text(page, '#updated');

    for (let i = 0; i < 6; i++) {
      const stream = await client.chat.completions.create({
        model: 'llama-3.1-8b',
        service_tier: i < 5 ? 'priority' : 'default',
        max_tokens: 16,
        stream: true,
        messages: [{ role: 'user', content: `Why split prefill and decode? (${i})` }],
      });
      for await (const chunk of stream) void chunk;
    }

    // The page polls /status.json every second: the served requests appear without a reload.
    await page.locator(requests, { hasText: /^5$/ }).waitFor({ timeout: 10_000 });
    expect(await text(page, '[data-tier="default"] [data-field="requests"]')).toBe('1');
    expect(await text(page, '#updated')).not.toBe(firstUpdate);
    const ttft = page.locator('[data-tier="priority"] [data-field="ttft-p50"]');
    expect(await ttft.textContent()).toMatch(/^\d+(\.\d+)? ms$/);
    // Each percentile is green within the SLO, red over it; the tier's badge says which.
    expect(await ttft.getAttribute('class')).toMatch(/^(ok|bad)$/);
    expect(await text(page, '[data-tier="priority"] [data-field="verdict"]')).toMatch(/^(within|over) SLO$/);
    expect(await text(page, '[data-tier="priority"] [data-field="attainment"]')).toMatch(/% of 5$/);
    expect(await text(page, '[data-tier="priority"]')).toContain('SLO: TTFT ≤ 300 ms, TPOT ≤ 5 ms');
    // Per pool: every configured pool with its healthy endpoints.
    expect(await text(page, '[data-pool="cs3-decode"] [data-field="healthy"]')).toBe('2 / 2');
    expect(await page.locator('#pools tbody tr').count()).toBe(3);
    // Nothing of the tenant on the page.
    expect(await page.content()).not.toContain('"dev"');
    expect(pageErrors).toEqual([]);

    mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 60_000);
});
