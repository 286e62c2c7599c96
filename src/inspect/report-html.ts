/**
 * The HTML form of an {@link InspectReport} (`rinse inspect --html`): one self-contained page
 * with the verdict on top, the findings and notes, then the stream's timeline drawn with the
 * shared chart module (web/timeline-charts.js, on uPlot): bitrate, frame rate, keyframe
 * intervals against the contract's bounds, A/V skew, with every finding, cause and repair as
 * a mark on the time axis, and the marks listed below.
 *
 * Pure: the caller reads the scripts and styles and passes them in; everything is inlined,
 * so the page opens from a file with no network and no other file.
 */
import { MAX_KEYFRAME_INTERVAL_MS, MIN_KEYFRAME_INTERVAL_MS } from '../media/output-contract.js';
import type { Cause, RuleFinding } from './findings.js';
import { streamSeconds } from './report-timeline.js';
import { round, type InspectReport, type InspectTimeline } from './report-types.js';
import { verdictSummary } from './report-text.js';

/** The page's scripts and styles, as text. */
export interface HtmlAssets {
  uplotJs: string;
  uplotCss: string;
  chartsJs: string;
  css: string;
}

/** A mark as timelineChart and renderMarks take it (x: stream time, s). */
interface PageMark {
  x: number;
  kind: 'finding' | 'repair';
  rule?: string;
  detail: string;
  count: number;
}

interface PageChart {
  id: string;
  spec: {
    title: string;
    unit: string;
    digits: number;
    timeAxis: 'stream';
    series: Array<{ label: string; points?: boolean; dash?: number[]; colour?: string }>;
  };
  xs: number[];
  ys: Array<Array<number | null>>;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/*
 * The page holds no URL (nothing in it may point outside, and it is checked for that): where
 * "http:" or "https:" occurs, in a licence comment, a namespace string or the report's text,
 * its "h" is written as an escape that each language reads back as the same character.
 */
const SCHEME = /(?<!\\)(h)(ttps?:)/gi;

/** Text for HTML content or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text
    .replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string)
    .replace(SCHEME, (_, h: string, rest: string) => `&#${h.charCodeAt(0)};${rest}`);
}

/**
 * A script's text, safe inside <script>: it cannot close the element, and `\u0068` reads as
 * "h" in JavaScript strings, regular expressions and identifiers alike.
 */
export function inlineScript(js: string): string {
  return js
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(SCHEME, (_, h: string, rest: string) => `\\u00${h.charCodeAt(0).toString(16)}${rest}`);
}

/** A stylesheet's text, safe inside <style> (in CSS, `\68 ` is "h"). */
export function inlineStyle(css: string): string {
  return css
    .replace(/<\/(style)/gi, '<\\/$1')
    .replace(SCHEME, (_, h: string, rest: string) => `\\${h.charCodeAt(0).toString(16)} ${rest}`);
}

/** Data as JSON inside <script type="application/json">: no `</` or `<!--` in it, no URL. */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/<\//g, '<\\/')
    .replace(/<!--/g, '<\\u0021--')
    .replace(SCHEME, (_, h: string, rest: string) => `\\u00${h.charCodeAt(0).toString(16)}${rest}`);
}

const ms = (v: number | null): string => (v === null ? '' : `, first at ${v} ms`);

function verdictClass(r: InspectReport): 'clean' | 'repair' | 'reject' {
  if (r.verdict.clean) return 'clean';
  return r.verdict.accept ? 'repair' : 'reject';
}

function causeItem(c: Cause): string {
  return `<li data-kind="${escapeHtml(c.kind)}">${escapeHtml(`${c.kind} (${c.track}) ${c.count}x${ms(c.firstAtMs)}: ${c.detail}`)}</li>`;
}

function findingItem(f: RuleFinding): string {
  const head = `${f.cloudflareMust ? 'REJECT' : 'repair'} ${f.count}x${ms(f.firstAtMs)}: ${f.detail}`;
  const causes = f.causes.length ? `<ul class="causes">${f.causes.map(causeItem).join('')}</ul>` : '';
  return `<li data-rule="${escapeHtml(f.rule)}" data-severity="${f.severity}"><span class="rule">${escapeHtml(f.rule)}</span> ${escapeHtml(head)}${causes}</li>`;
}

/** What was measured, in one line under the verdict. */
function factsLine(r: InspectReport): string {
  const v = r.video;
  const a = r.audio;
  const parts = [
    v
      ? `video ${v.codec} ${v.width ?? '?'}x${v.height ?? '?'}${v.fps ? ` ${v.fps} fps` : ''}, ${v.frames} frames`
      : 'no video',
    a ? `audio ${a.codec}${a.sampleRate ? ` ${a.sampleRate} Hz` : ''}, ${a.frames} frames` : 'no audio',
    `${(r.durationMs / 1000).toFixed(2)} s`,
    `${r.bitrateKbps} kbit/s`,
    `${r.gop.keyframes} keyframes`,
  ];
  return parts.join('; ');
}

function repairsLine(r: InspectReport): string {
  const kinds = Object.entries(r.repairs ?? {});
  const what = kinds.length
    ? `rinse fix would repair: ${kinds.map(([k, v]) => `${k} ${v?.count ?? 0}x`).join(', ')}`
    : 'rinse fix would change nothing';
  const transcode = r.needsTranscode
    ? `; and still needs a transcode: ${r.needsTranscode.reason} (${r.needsTranscode.detail})`
    : '';
  return escapeHtml(what + transcode);
}

function findingsSection(r: InspectReport): string {
  const findings = r.findings.length
    ? `<ul class="findings">${r.findings.map(findingItem).join('')}</ul>`
    : '<p>No contract rule broken.</p>';
  const notes = r.notes.length ? `<h3>Notes</h3><ul class="notes">${r.notes.map(causeItem).join('')}</ul>` : '';
  return `<section id="findings"><h2>Findings</h2>${findings}${notes}
<p class="hint">Not judged from one input: ${escapeHtml(r.verdict.notJudged.join(', '))}</p>
<p id="repairs">${repairsLine(r)}</p></section>`;
}

/** Each finding and each of its causes at its first time, then the fixer's repairs; by time. */
function pageMarks(r: InspectReport, t: InspectTimeline | null): PageMark[] {
  const origin = t?.originMs ?? 0;
  const x = (atMs: number | null): number => (atMs === null ? 0 : round(streamSeconds(origin, atMs)));
  const when = (atMs: number | null): string => (atMs === null ? 'whole stream: ' : '');
  const marks: PageMark[] = [];
  for (const f of r.findings) {
    const severity = f.cloudflareMust ? 'REJECT' : 'repair';
    marks.push({
      x: x(f.firstAtMs),
      kind: 'finding',
      rule: f.rule,
      detail: `${when(f.firstAtMs)}${severity}: ${f.detail}`,
      count: f.count,
    });
    for (const c of f.causes) {
      const detail = `${when(c.firstAtMs)}${c.kind} (${c.track}): ${c.detail}`;
      marks.push({ x: x(c.firstAtMs), kind: 'finding', rule: f.rule, detail, count: c.count });
    }
  }
  for (const m of t?.marks ?? []) {
    const detail = `${m.kind} (${m.track}), largest ${m.maxAmount}`;
    marks.push({ x: m.atS, kind: 'repair', detail, count: m.count });
  }
  return marks.sort((a, b) => a.x - b.x);
}

/** Points in x order (uPlot draws along ascending x); arrival order may step back on a restart. */
function byX<T extends { atS: number }>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => a.atS - b.atS);
}

function chart(id: string, spec: Omit<PageChart['spec'], 'timeAxis'>, xs: number[], ys: PageChart['ys']): PageChart {
  return { id, spec: { ...spec, timeAxis: 'stream' }, xs, ys };
}

function pageCharts(t: InspectTimeline | null): PageChart[] {
  const s = t?.perSecond ?? { atS: [], videoKbps: [], audioKbps: [], fps: [] };
  const keys = byX(t?.keyframes ?? []);
  const skew = byX(t?.skew ?? []);
  const kx = keys.map((k) => k.atS);
  const bounds = [
    { label: 'min', dash: [6, 4], colour: '#9ca3af' },
    { label: 'max', dash: [6, 4], colour: '#ef4444' },
  ];
  return [
    chart(
      'chart-bitrate',
      { title: 'Bitrate', unit: 'kb/s', digits: 0, series: [{ label: 'video' }, { label: 'audio' }] },
      s.atS,
      [s.videoKbps, s.audioKbps],
    ),
    chart('chart-fps', { title: 'Frame rate', unit: 'fps', digits: 0, series: [{ label: 'video' }] }, s.atS, [s.fps]),
    chart(
      'chart-keyframes',
      {
        title: 'Keyframe intervals (flagged)',
        unit: 's',
        digits: 2,
        series: [{ label: 'interval', points: true }, ...bounds],
      },
      kx,
      [
        keys.map((k) => k.intervalS),
        kx.map(() => MIN_KEYFRAME_INTERVAL_MS / 1000),
        kx.map(() => MAX_KEYFRAME_INTERVAL_MS / 1000),
      ],
    ),
    chart(
      'chart-skew',
      {
        title: 'A/V skew (last audio - last video DTS, arrival order)',
        unit: 'ms',
        digits: 0,
        series: [{ label: 'skew' }],
      },
      skew.map((k) => k.atS),
      [skew.map((k) => k.skewMs)],
    ),
  ];
}

/** Draws the charts and the marks list from the page's data (runs after the chart module). */
const DRAW_SCRIPT = `(function () {
  'use strict';
  var T = window.RinseTimeline;
  var d = JSON.parse(document.getElementById('rinse-data').textContent);
  d.charts.forEach(function (c) {
    T.timelineChart(document.getElementById(c.id), c.spec).update(c.xs, c.ys, d.marks);
  });
  // renderMarks lists the last mark first (the live page's newest); here, first in time on top.
  T.renderMarks(document.getElementById('marks'), d.marks.slice().reverse(), function (x) {
    return x.toFixed(3) + ' s';
  });
})();`;

function timelineSection(t: InspectTimeline | null, charts: PageChart[]): string {
  const dropped = t ? Object.entries(t.dropped).filter(([, n]) => n > 0) : [];
  const note = dropped.length
    ? `<p class="hint">Past the page's caps, left out: ${escapeHtml(dropped.map(([k, n]) => `${n} ${k}`).join(', '))}.</p>`
    : '';
  return `<section id="timeline"><h2>Timeline</h2>
<p class="hint">Stream time in s from the first audio or video tag${t ? ` (${t.originMs} ms as sent)` : ''}. Vertical lines: findings and their causes where they first happen, and the repairs rinse fix would make. Keyframe bounds: ${MIN_KEYFRAME_INTERVAL_MS / 1000}-${MAX_KEYFRAME_INTERVAL_MS / 1000} s.</p>${note}
<div class="charts">${charts.map((c) => `<div class="chart" id="${c.id}"></div>`).join('')}</div>
<h3>Marks</h3><ul id="marks" class="marks"></ul></section>`;
}

/** The whole page. */
export function renderHtmlReport(report: InspectReport, assets: HtmlAssets): string {
  const t = report.timeline ?? null;
  const charts = pageCharts(t);
  const data = { charts, marks: pageMarks(report, t) };
  const source = escapeHtml(report.source);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rinse inspect: ${source}</title>
<style>
${inlineStyle(assets.uplotCss)}
${inlineStyle(assets.css)}
</style>
</head>
<body>
<header><h1>rinse inspect</h1><span>${source}</span></header>
<div id="verdict" class="verdict ${verdictClass(report)}">${escapeHtml(verdictSummary(report))}</div>
<main>
<p class="hint" id="facts">${escapeHtml(factsLine(report))}</p>
${findingsSection(report)}
${timelineSection(t, charts)}
</main>
<script>
${inlineScript(assets.uplotJs)}
</script>
<script>
${inlineScript(assets.chartsJs)}
</script>
<script type="application/json" id="rinse-data">${inlineJson(data)}</script>
<script>
${DRAW_SCRIPT}
</script>
</body>
</html>
`;
}
