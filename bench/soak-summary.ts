/**
 * The soak's end: the figures gathered by bench/soak.ts turned into the report and the
 * verdict (zero missing frames, RSS growth after warm-up under 5 %, descriptors back to
 * their starting count).
 */
import {
  MAX_RSS_GROWTH_PCT,
  rssGrowth,
  streamTable,
  totals,
  type RssGrowth,
  type Sample,
  type StreamRow,
} from './soak-report.js';

export interface SoakFigures {
  streams: number;
  minutes: number;
  seed: number;
  source: string;
  warmUpFraction: number;
  rows: StreamRow[];
  samples: Sample[];
  peakRssMb: number;
  fds: { start: number; withStreams: number; end: number; backAfterS: number };
  /** Descriptor kinds open at the end and not at the start (or the reverse). */
  fdsLeftOpen: string;
  /** Upstream sessions rinse had not ended when the wait for them ran out. */
  upstreamsLeft: number;
  /** rinse's exit code if it exited during the run. */
  rinseExit: number | null | undefined;
  cpuPctOfCore: number;
  warnings: Map<string, number>;
  warningExamples: string[];
  metrics: string[];
  loopDelayMs: { p99: number; max: number };
}

export interface SoakResult {
  pass: boolean;
  failures: string[];
  /** The final report, line by line. */
  report: string[];
  frames: {
    sent: number;
    received: number;
    missing: number;
    unexpected: number;
    demotedIdrs: number;
    inFlight: number;
  };
  rss: RssGrowth;
  fds: { start: number; end: number };
  rows: StreamRow[];
}

const f1 = (n: number): string => n.toFixed(1);
const signed = (n: number): string => `${n >= 0 ? '+' : ''}${n.toFixed(2)}`;

function frameLines(t: ReturnType<typeof totals>, rows: readonly StreamRow[]): string[] {
  const lines = [
    `frames sent during connections: ${t.sentVideo} video + ${t.sentAudio} audio; ` +
      `received ${t.receivedVideo} + ${t.receivedAudio}; missing ${t.missingVideo} + ${t.missingAudio}; unexpected ${t.unexpected}`,
    `  of those received, ${t.demotedIdrs} IDRs arrived demoted by the fixer and ${t.renumbered} pictures after them ` +
      `renumbered (slice headers only, matched by their NAL units); ` +
      `${t.inFlightAtCut} frames were not yet in the kernel at an abrupt drop (${t.inFlightArrived} of them arrived)`,
    `  sequence headers received ${t.sequenceHeaders}; upstream publishes seen by the receiver ${t.upstreamPublishes}; ` +
      `gap filler frames received ${t.filler} (frozen picture and silence while a publisher was away)`,
    `connections ${t.connections}: drops ${t.abruptDrops} abrupt + ${t.orderlyDrops} orderly, ` +
      `${t.longPauses} pauses past the grace period; connect failures ${t.connectFailures}; closed by rinse ${t.closedByRelay}`,
  ];
  for (const r of rows) for (const p of r.problems) lines.push(`  ${r.name}: ${p}`);
  return lines;
}

function rssLine(g: RssGrowth): string {
  return (
    `rinse RSS after warm-up: ${f1(g.warmMb)} MB (median, ${Math.round(g.warmFromS)}-${Math.round(g.warmToS)} s) -> ` +
    `${f1(g.endMb)} MB (median, ${Math.round(g.endFromS)} s to the end): ${signed(g.growthPct)} %; ` +
    `single samples ${f1(g.singleWarmMb)} -> ${f1(g.singleEndMb)} MB (${signed(g.singlePct)} %); peak ${f1(g.peakMb)} MB`
  );
}

export function summarise(x: SoakFigures): SoakResult {
  const t = totals(x.rows);
  const runS = x.minutes * 60;
  const rss = rssGrowth(x.samples, runS, x.peakRssMb, x.warmUpFraction);
  const missing = t.missingVideo + t.missingAudio;
  const failures: string[] = [];
  if (x.rinseExit !== undefined) failures.push(`rinse exited (${x.rinseExit}) during the run`);
  if (missing > 0 || t.unexpected > 0) failures.push(`${missing} frames missing, ${t.unexpected} unexpected`);
  if (!(rss.growthPct < MAX_RSS_GROWTH_PCT)) failures.push(`RSS grew ${signed(rss.growthPct)} % after warm-up`);
  if (x.fds.end !== x.fds.start) failures.push(`fds ${x.fds.start} at start, ${x.fds.end} after the streams ended`);
  if (x.upstreamsLeft > 0) failures.push(`${x.upstreamsLeft} upstream sessions still open after the grace period`);
  const warnings = [...x.warnings].map(([msg, n]) => `${n}x ${msg}`).join('; ') || 'none';
  const report = [
    `soak result: ${x.streams} streams x ${x.minutes} min, seed ${x.seed}, source ${x.source}`,
    ...streamTable(x.rows),
    ...frameLines(t, x.rows),
    rssLine(rss),
    `rinse fds: ${x.fds.start} at start, up to ${x.fds.withStreams} with the streams, ${x.fds.end} after all streams ended ` +
      `(${f1(x.fds.backAfterS)} s after the last upstream closed); changed kinds: ${x.fdsLeftOpen}`,
    `rinse CPU ${f1(x.cpuPctOfCore)} % of a core over the run; warnings logged: ${warnings}`,
    ...x.warningExamples.map((l) => `  ${l}`),
    `rinse metrics: ${x.metrics.join('; ') || 'none'}`,
    `harness event loop delay: p99 ${f1(x.loopDelayMs.p99)} ms, max ${f1(x.loopDelayMs.max)} ms`,
    `verdict: every frame sent during a connection arrived: ${missing === 0 && t.unexpected === 0 ? 'yes' : 'NO'}; ` +
      `RSS growth < ${MAX_RSS_GROWTH_PCT} %: ${rss.growthPct < MAX_RSS_GROWTH_PCT ? 'yes' : 'NO'}; ` +
      `fds back to start: ${x.fds.end === x.fds.start ? 'yes' : 'NO'}`,
    failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`,
  ];
  return {
    pass: failures.length === 0,
    failures,
    report,
    frames: {
      sent: t.sentVideo + t.sentAudio,
      received: t.receivedVideo + t.receivedAudio,
      missing,
      unexpected: t.unexpected,
      demotedIdrs: t.demotedIdrs,
      inFlight: t.inFlightAtCut,
    },
    rss,
    fds: { start: x.fds.start, end: x.fds.end },
    rows: x.rows,
  };
}
