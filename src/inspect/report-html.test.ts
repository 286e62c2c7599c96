/**
 * renderHtmlReport on a synthetic stream with broken rules: the page holds the verdict, every
 * finding with its rule (in the list and as a mark), the charts' data, and nothing that
 * reaches outside it: no URL, no src/href, and data that cannot close its script element.
 * The page itself is drawn in a browser by test/inspect-html.test.ts.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  aacFrameTag,
  aacHeaderTag,
  avcFrameTag,
  avcHeaderTag,
  buildPps,
  buildSlice,
  buildSps,
  SliceType,
  aacFrameMs,
  videoFrameMs,
} from '../fixer/synthetic-h264.test-support.js';
import { MAX_KEYFRAME_INTERVAL_MS, MIN_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';
import type { MediaTag } from '../media/tag-kinds.js';
import { inlineScript, renderHtmlReport, type HtmlAssets } from './report-html.js';
import type { InspectReport } from './report-types.js';
import { inspectTags } from './inspect-source.js';

const FPS = 30;
const frameTime = (i: number): number => videoFrameMs(i, FPS);
const audioTime = (i: number): number => aacFrameMs(i, 44100);

/** 6 s from 3 s on: a video DTS steps back at frame 40 (monotonic) and one AAC tag byte is 0xAE. */
function dirtyStream(): MediaTag[] {
  const start = 3000;
  const media: Array<{ order: number; tag: MediaTag }> = [];
  for (let i = 0; i < 6 * FPS; i++) {
    const j = i % (2 * FPS);
    const slice = buildSlice({ idr: j === 0, sliceType: j === 0 ? SliceType.I : SliceType.P, frameNum: j % 16 });
    const dts = start + frameTime(i) - (i === 40 ? 100 : 0);
    media.push({ order: frameTime(i), tag: avcFrameTag(dts, [slice], j === 0) });
  }
  for (let i = 0; audioTime(i) < 6000; i++)
    media.push({ order: audioTime(i), tag: aacFrameTag(start + audioTime(i), i === 30 ? 0xae : undefined) });
  media.sort((a, b) => a.order - b.order);
  return [avcHeaderTag(start, buildSps({ fps: FPS }), buildPps()), aacHeaderTag(start), ...media.map((m) => m.tag)];
}

/** The report `inspect --html` renders: analyzer, timeline and the dry-run fixer on every tag. */
const inspect = (tags: readonly MediaTag[]): InspectReport => inspectTags('synthetic.flv', tags, { timeline: true });

/** Stand-ins for uPlot and the chart module, with what real builds hold: a licence URL, a namespace string, `</script>`. */
const ASSETS: HtmlAssets = {
  uplotJs:
    "/*! uPlot (c) Someone, MIT License, https://example.invalid/uplot */\nvar uPlot = function () { return { ns: 'http://www.w3.org/2000/svg', end: '</script>', re: /https:\\/\\//.test('https://a') }; };",
  uplotCss: '.uplot { font-family: system-ui; } /* see https://example.invalid/css */',
  chartsJs: 'window.RinseTimeline = {};',
  css: '.verdict { padding: 1em; }',
};

/** The contents of each <script> element. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script(?: [^>]*)?>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
}

interface PageData {
  charts: Array<{ id: string; xs: number[]; ys: Array<Array<number | null>> }>;
  marks: Array<{ x: number; kind: string; rule?: string; detail: string; count: number }>;
}

function pageData(html: string): PageData {
  const json = /<script type="application\/json" id="rinse-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
  expect(json).toBeDefined();
  return JSON.parse(json as string) as PageData;
}

describe('renderHtmlReport', () => {
  const report = inspect(dirtyStream());

  it('starts from a stream with broken rules (REJECT and repair)', () => {
    expect(report.findings.map((f) => f.rule)).toEqual(expect.arrayContaining(['monotonic', 'aac-tag-byte']));
    expect(report.findings.some((f) => f.cloudflareMust)).toBe(true);
    expect(report.findings.some((f) => !f.cloudflareMust)).toBe(true);
  });

  it('puts the verdict on top, then one list item per finding with its rule, severity and causes', () => {
    const html = renderHtmlReport(report, ASSETS);
    expect(html).toMatch(/<div id="verdict" class="verdict reject">NOT CLEAN: \d+ contract rules broken/);
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('<ul class="findings">'));
    for (const f of report.findings) {
      const item = new RegExp(
        `<li data-rule="${f.rule}" data-severity="${f.severity}"><span class="rule">${f.rule}</span> ${f.cloudflareMust ? 'REJECT' : 'repair'} ${f.count}x`,
      );
      expect(html, f.rule).toMatch(item);
      for (const c of f.causes) expect(html).toContain(`<li data-kind="${c.kind}">`);
    }
    for (const n of report.notes) expect(html).toContain(`<li data-kind="${n.kind}">`);
  });

  it('marks every finding and each of its causes at its first time, and the repairs, in time order', () => {
    const data = pageData(renderHtmlReport(report, ASSETS));
    const origin = report.timeline?.originMs ?? 0;
    for (const f of report.findings) {
      const marks = data.marks.filter((m) => m.kind === 'finding' && m.rule === f.rule);
      expect(marks.length, f.rule).toBe(1 + f.causes.length);
      expect(marks.map((m) => m.x)).toContain(((f.firstAtMs ?? origin) - origin) / 1000);
    }
    const repairs = data.marks.filter((m) => m.kind === 'repair');
    expect(repairs.reduce((n, m) => n + m.count, 0)).toBe(
      Object.values(report.repairs ?? {}).reduce((n, r) => n + (r?.count ?? 0), 0),
    );
    expect(data.marks.map((m) => m.x)).toEqual([...data.marks.map((m) => m.x)].sort((a, b) => a - b));
  });

  it('gives each chart its data: bitrate and frame rate per second, keyframes with the contract bounds, skew', () => {
    const data = pageData(renderHtmlReport(report, ASSETS));
    const chart = (id: string) => data.charts.find((c) => c.id === id);
    expect(data.charts.map((c) => c.id)).toEqual(['chart-bitrate', 'chart-fps', 'chart-keyframes', 'chart-skew']);
    expect(chart('chart-bitrate')?.xs).toEqual([0, 1, 2, 3, 4, 5]);
    expect(chart('chart-fps')?.ys).toEqual([[30, 30, 30, 30, 30, 30]]);
    expect(chart('chart-keyframes')?.ys).toEqual([
      [null, 2, 2],
      [MIN_KEYFRAME_INTERVAL_MS / 1000, MIN_KEYFRAME_INTERVAL_MS / 1000, MIN_KEYFRAME_INTERVAL_MS / 1000],
      [MAX_KEYFRAME_INTERVAL_MS / 1000, MAX_KEYFRAME_INTERVAL_MS / 1000, MAX_KEYFRAME_INTERVAL_MS / 1000],
    ]);
    expect(chart('chart-skew')?.xs.length).toBe(6);
    for (const c of data.charts)
      expect(
        c.ys.every((y) => y.length === c.xs.length),
        c.id,
      ).toBe(true);
  });

  it('holds no URL and no src/href: everything is inline', () => {
    const html = renderHtmlReport(report, ASSETS);
    expect(html).not.toMatch(/http/i);
    expect(html).not.toMatch(/\s(src|href)\s*=/i);
    expect(html).toContain('<style>');
    expect(html).toContain('.uplot { font-family: system-ui; }');
  });

  it('escapes text it writes and data that would close the script element', () => {
    const hostile = structuredClone(report);
    const first = hostile.findings[0];
    expect(first).toBeDefined();
    if (first) first.detail = 'bad </script><script>alert(1)</script> & <b>bold</b> http://x';
    hostile.source = '<img onerror=x>.flv';
    const html = renderHtmlReport(hostile, ASSETS);
    // Only the page's own four script elements close.
    expect(html.match(/<\/script/gi)?.length).toBe(4);
    // Outside the data (where `</` cannot close anything), no element was injected.
    const markup = html.replace(/(<script type="application\/json" id="rinse-data">)[\s\S]*?(<\/script>)/, '$1$2');
    expect(markup).not.toContain('<script>alert');
    expect(markup).not.toContain('<img onerror');
    expect(html).toContain('bad &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;');
    const data = pageData(html);
    expect(data.marks.some((m) => m.detail.includes('bad </script><script>alert(1)</script>'))).toBe(true);
    expect(data.marks.some((m) => m.detail.endsWith('http://x'))).toBe(true);
  });

  it('rewrites URLs in scripts with escapes that read back as the same strings', () => {
    const js = inlineScript(ASSETS.uplotJs);
    expect(js).not.toMatch(/http/i);
    expect(js).not.toContain('</script');
    const run = runInNewContext(`${js}; uPlot()`) as { ns: string; end: string; re: boolean };
    expect(run).toEqual({ ns: 'http://www.w3.org/2000/svg', end: '</script>', re: true });
    expect(scripts(renderHtmlReport(report, ASSETS)).length).toBe(4);
  });

  it('says clean in green for a clean report, and draws empty charts without a timeline', () => {
    const clean = structuredClone(report);
    clean.findings = [];
    clean.verdict = { ...clean.verdict, clean: true, accept: true, broken: [], reasons: [] };
    delete clean.timeline;
    const html = renderHtmlReport(clean, ASSETS);
    expect(html).toContain('<div id="verdict" class="verdict clean">CLEAN');
    expect(html).not.toContain('<ul class="findings">');
    expect(pageData(html).charts.every((c) => c.xs.length === 0)).toBe(true);
  });
});
