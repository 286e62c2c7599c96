/**
 * The live page in a real browser: `rinse serve` relays a real stream (replayed twice, so
 * the publisher reconnects within the grace period) to a real receiver, and headless
 * Chromium opens `GET /` with the API token. The streams table lists the stream, every
 * chart has drawn data points, and the reconnect is a mark on the time axis and in the
 * marks list. A screenshot is saved in the test's temp dir (its path is printed).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumSkipReason, keepScreenshots, launchChromium, screenshotFate } from './support/browser.js';
import { useFixtures } from './support/fixtures.js';
import { apiPortOf, freePort, runReplay, startReceiver, startRinse } from './support/processes.js';

const fixture = useFixtures();
const dir = mkdtempSync(join(tmpdir(), 'rinse-live-page-'));
afterAll(() => {
  if (!keepScreenshots) rmSync(dir, { recursive: true, force: true });
});

const TOKEN = 'page-test-token-4d1c';
const CHARTS = ['bitrate', 'fps', 'keyframes', 'skew', 'latency'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Run in the page (strings: the tests are compiled without the DOM's types).
const CHARTS_DRAWN = `${JSON.stringify(CHARTS)}.every((id) => Number(document.getElementById('chart-' + id)?.getAttribute('data-points')) >= 3)`;
const READOUT = `({
  row: Array.from(document.querySelectorAll('#streams tbody tr[data-stream="glasses/page"] td')).map((td) => td.textContent),
  charts: Array.from(document.querySelectorAll('.chart')).map((el) => ({
    id: el.id,
    points: Number(el.getAttribute('data-points')),
    marks: JSON.parse(el.getAttribute('data-mark-kinds') || '{}'),
    // A drawn canvas has pixels that are not transparent.
    inked: Array.from(el.querySelectorAll('canvas')).some((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
      return false;
    }),
  })),
})`;
const BITRATE_SHOWN = `/kb\\/s$/.test(document.querySelector('#streams tbody tr[data-stream="glasses/page"] td:nth-child(7)')?.textContent || '')`;
const MARKS = `Array.from(document.querySelectorAll('#marks li')).map((li) => li.textContent)`;

interface Readout {
  row: string[];
  charts: Array<{ id: string; points: number; marks: Record<string, number>; inked: boolean }>;
}

describe.skipIf(chromiumSkipReason !== null)(
  `live page in headless Chromium${chromiumSkipReason === null ? '' : ` (skipped: ${chromiumSkipReason})`}`,
  () => {
    it('lists the stream, draws every chart, and marks the publisher reconnect', async () => {
      const receiver = startReceiver(join(dir, 'out.flv'), await freePort());
      const relay = await startRinse(['--target', receiver.url, '--grace-ms', '10000', '--api-token', TOKEN]);
      const api = `http://127.0.0.1:${await apiPortOf(relay)}`;
      const url = `rtmp://127.0.0.1:${relay.port}/live/glasses/page`;
      const browser = await launchChromium();
      try {
        // Without the token the page is refused; its static files carry no data and are open.
        expect((await fetch(`${api}/`)).status).toBe(401);
        expect((await fetch(`${api}/ui/timeline-charts.js`)).status).toBe(200);
        expect((await runReplay(fixture('clean-720p30'), url, 1)).code).toBe(0);
        await sleep(1500);
        const second = runReplay(fixture('clean-720p30'), url, 1);
        const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
        const consoleErrors: string[] = [];
        page.on('pageerror', (err) => consoleErrors.push(String(err)));
        await page.goto(`${api}/?token=${TOKEN}`);
        await page.waitForSelector('#streams tbody tr[data-stream="glasses/page"]', { timeout: 15_000 });
        // Charts fill as seconds pass; the reconnect happened before the page opened and is in the history.
        await page.waitForFunction(CHARTS_DRAWN, undefined, { timeout: 20_000 });
        await page.waitForSelector('#marks li[data-kind="reconnect"]', { timeout: 10_000 });
        await page.waitForFunction(BITRATE_SHOWN, undefined, { timeout: 10_000 });
        const { row, charts } = (await page.evaluate(READOUT)) as Readout;
        const marks = (await page.evaluate(MARKS)) as string[];
        const shot = join(dir, 'live-page.png');
        await page.screenshot({ path: shot, fullPage: true });
        console.log(
          `live page: screenshot ${shot} (${statSync(shot).size} bytes, ${screenshotFate}); row ${JSON.stringify(row)}; charts ${JSON.stringify(charts)}; ${marks.length} marks, first: ${marks.slice(0, 3).join(' | ')}`,
        );
        expect(row.slice(0, 2)).toEqual(['glasses', 'page']);
        expect(row[4]).toBe('avc / aac');
        expect(row[6]).toMatch(/^\d+ kb\/s$/);
        expect(row[5]).toMatch(/^1280x720/);
        expect(row[7]).toMatch(/^remux/);
        expect(row[8]).toBe('live');
        expect(row[9]).toMatch(/^1 /);
        for (const c of charts) {
          expect(c.points, `${c.id}: data points`).toBeGreaterThanOrEqual(3);
          expect(c.inked, `${c.id}: canvas drawn`).toBe(true);
          expect(c.marks.reconnect, `${c.id}: the reconnect mark on its time axis`).toBe(1);
        }
        expect(marks.some((m) => /reconnect: publish 2/.test(m))).toBe(true);
        expect(consoleErrors).toEqual([]);
        expect((await second).code).toBe(0);
      } finally {
        await browser.close();
        await relay.stop();
        receiver.kill();
      }
      expect(relay.output()).not.toContain(TOKEN);
    }, 120_000);
  },
);
