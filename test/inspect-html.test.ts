/**
 * `rinse inspect --html` end to end: the built CLI on the dirtiest fixture writes one page and
 * nothing else, with no URL and no src/href in it; headless Chromium opens it from the file
 * (any request other than that file fails the test), draws every chart, and shows every
 * finding of the text report in the findings list and in the marks list, under the verdict.
 * A screenshot of the page is left in the test's temp dir. The CLI is bin/rinse.js: build
 * first (`npx tsc -p tsconfig.build.json`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { chromiumSkipReason, keepScreenshots, launchChromium, screenshotFate } from './support/browser.js';
import { BIN, runProcess, type ToolRun } from './support/processes.js';

/** Seven rules broken, REJECT and repair: the fixture with the most findings. */
const FIXTURE = 'all-at-once';

/** The built CLI, to its end (bounded). */
const runCli = (args: string[]): Promise<ToolRun> => runProcess(process.execPath, [BIN, ...args], 60_000);

/** Each broken rule as the text report lists it (`  REJECT <rule>  ...`), with the causes its next line names. */
function findingsOf(text: string): Array<{ rule: string; severity: string; causes: string[] }> {
  const lines = text.split('\n');
  return lines.flatMap((line, i) => {
    const m = /^ {2}(REJECT|repair) (\S+) /.exec(line);
    if (m === null) return [];
    const causes = /; causes: (.*)$/.exec(lines[i + 1] ?? '')?.[1] ?? '-';
    return [{ severity: m[1] as string, rule: m[2] as string, causes: causes === '-' ? [] : causes.split(', ') }];
  });
}

const rulesOf = (text: string): string[] => findingsOf(text).map((f) => f.rule);

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('rinse inspect --html', () => {
  let dir = '';
  let page = '';
  let withHtml: ToolRun;
  let textOnly: ToolRun;
  let written: string[] = [];

  beforeAll(async () => {
    const manifest = await ensureFixtures();
    const fixture = (manifest.find((f) => f.name === FIXTURE) as FixtureFile).file;
    dir = mkdtempSync(join(tmpdir(), 'rinse-inspect-html-'));
    page = join(dir, 'report.html');
    withHtml = await runCli(['inspect', '--html', page, fixture]);
    written = readdirSync(dir);
    textOnly = await runCli(['inspect', fixture]);
  }, 600_000);
  afterAll(() => {
    if (dir !== '' && !keepScreenshots) rmSync(dir, { recursive: true, force: true });
  });

  it('writes exactly one file, says so on stderr, and keeps the text report and exit code', () => {
    expect(withHtml.code, withHtml.stderr).toBe(1);
    expect(textOnly.code).toBe(1);
    expect(withHtml.stdout).toBe(textOnly.stdout);
    expect(written).toEqual(['report.html']);
    expect(withHtml.stderr).toBe(`rinse inspect: wrote ${page} (${Math.round(readFileSync(page).length / 1000)} kB)\n`);
    expect(rulesOf(textOnly.stdout).length).toBeGreaterThanOrEqual(5);
  });

  it('holds no URL and no src= or href=: scripts, styles and data are inline', () => {
    const html = readFileSync(page, 'utf8');
    expect(html).not.toMatch(/https?:/);
    expect(html).not.toMatch(/\s(?:src|href)\s*=/i);
    expect(html.match(/<script[\s>]/g)?.length).toBe(4);
    for (const rule of rulesOf(textOnly.stdout)) expect(html).toContain(`data-rule="${rule}"`);
  });

  const browserTitle = `in headless Chromium${chromiumSkipReason === null ? '' : ` (skipped: ${chromiumSkipReason})`}`;
  describe.skipIf(chromiumSkipReason !== null)(browserTitle, () => {
    it('draws every chart and shows every finding of the text report in the list and as a mark', async () => {
      const browser = await launchChromium();
      try {
        const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const errors: string[] = [];
        const requests: string[] = [];
        tab.on('pageerror', (e) => errors.push(e.message));
        tab.on('request', (r) => requests.push(r.url()));
        const url = pathToFileURL(page).href;
        await tab.goto(url, { timeout: 20_000 });
        // Evaluated in the page (this project's TS has no DOM types): each chart drew values.
        const drawn = `[...document.querySelectorAll('.chart')].filter((c) => Number(c.getAttribute('data-points')) > 0).length === 4`;
        await tab.waitForFunction(drawn, undefined, { timeout: 20_000 });
        const rules = rulesOf(textOnly.stdout);
        const verdict = await tab.locator('#verdict.verdict.reject').textContent();
        expect(verdict).toMatch(new RegExp(`^NOT CLEAN: ${rules.length} contract rules broken`));
        const marks = await tab.locator('#marks li[data-kind="finding"]').allTextContents();
        // A mark reads "<time> s  finding [<rule>]: [whole stream: ]<what>" (web/timeline-charts.js).
        const marked = (rule: string, what: string): boolean => {
          const line = new RegExp(
            `^-?\\d+\\.\\d{3} s  finding \\[${escapeRegExp(rule)}\\]: (whole stream: )?${escapeRegExp(what)}`,
          );
          return marks.some((m) => line.test(m));
        };
        for (const f of findingsOf(textOnly.stdout)) {
          const listed = await tab.locator(`ul.findings > li[data-rule="${f.rule}"] > .rule`).allTextContents();
          expect(listed, `${f.rule} in the findings list`).toEqual([f.rule]);
          expect(marked(f.rule, `${f.severity}: `), `no mark for the finding ${f.rule}`).toBe(true);
          expect(f.causes.length, f.rule).toBeGreaterThan(0);
          for (const c of f.causes) expect(marked(f.rule, `${c} (`), `no mark for ${f.rule}'s cause ${c}`).toBe(true);
        }
        expect(await tab.locator('ul.findings > li').count()).toBe(rules.length);
        const markCounts = await tab.$$eval('.chart', (els) => els.map((e) => Number(e.getAttribute('data-marks'))));
        expect(markCounts.every((n) => n >= marks.length)).toBe(true);
        const shot = join(dir, 'report.png');
        await tab.screenshot({ path: shot, fullPage: true });
        console.log(`rinse inspect --html: screenshot ${shot} (${screenshotFate})`);
        expect(errors).toEqual([]);
        expect(requests).toEqual([url]);
      } finally {
        await browser.close();
      }
    }, 90_000);
  });
});
