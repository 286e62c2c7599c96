/**
 * The soak's measurements of the rinse process (RSS and open file descriptors from /proc),
 * its 10 s progress lines, the per-stream table and the verdict.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { memoryMb } from './live.js';
import type { FrameLedger, LedgerCounts } from './soak-ledger.js';
import type { PublisherStats } from './soak-publisher.js';

/** The pass line for RSS: growth after warm-up below this, %. */
export const MAX_RSS_GROWTH_PCT = 5;

export interface Sample {
  atS: number;
  live: number;
  sentVideo: number;
  sentAudio: number;
  receivedVideo: number;
  receivedAudio: number;
  rssMb: number;
  /** rinse's V8 heap in use and its memory outside the heap (buffers), from its /metrics. */
  heapMb: number;
  externalMb: number;
  fds: number;
}

export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** Open descriptors by kind (socket, pipe, anon_inode:[eventfd], a file's path), to say which ones stayed open. */
export function fdKinds(pid: number): Map<string, number> {
  const kinds = new Map<string, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return kinds;
  }
  for (const fd of entries) {
    let target = 'gone';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/:\[\d+\]$/, '');
    } catch {
      // closed meanwhile
    }
    kinds.set(target, (kinds.get(target) ?? 0) + 1);
  }
  return kinds;
}

/** "socket +3" for each kind that differs between two fdKinds() maps. */
export function fdDiff(before: Map<string, number>, after: Map<string, number>): string {
  const keys = new Set([...before.keys(), ...after.keys()]);
  const parts: string[] = [];
  for (const k of keys) {
    const d = (after.get(k) ?? 0) - (before.get(k) ?? 0);
    if (d !== 0) parts.push(`${k} ${d > 0 ? '+' : ''}${d}`);
  }
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export function takeSample(
  atS: number,
  pid: number,
  live: number,
  ledgers: readonly FrameLedger[],
  heap: { heapMb: number; externalMb: number },
): Sample {
  const sum = (key: keyof LedgerCounts): number => ledgers.reduce((n, l) => n + l.counts[key], 0);
  return {
    atS,
    live,
    sentVideo: sum('sentVideo'),
    sentAudio: sum('sentAudio'),
    receivedVideo: sum('receivedVideo'),
    receivedAudio: sum('receivedAudio'),
    rssMb: memoryMb(pid).rss,
    ...heap,
    fds: fdCount(pid),
  };
}

const pad = (v: string | number, n: number): string => String(v).padStart(n);

export function sampleLine(s: Sample, streams: number): string {
  return (
    `soak ${pad(Math.round(s.atS), 5)} s  publishers ${pad(s.live, 3)}/${streams}  ` +
    `sent v ${pad(s.sentVideo, 8)} a ${pad(s.sentAudio, 8)}  ` +
    `received v ${pad(s.receivedVideo, 8)} a ${pad(s.receivedAudio, 8)}  ` +
    `rinse RSS ${s.rssMb.toFixed(1)} MB (heap ${s.heapMb.toFixed(1)}, buffers ${s.externalMb.toFixed(1)})  fds ${s.fds}`
  );
}

export interface RssGrowth {
  /** Median RSS of the samples in the window starting at a quarter of the run, MB. */
  warmMb: number;
  warmFromS: number;
  warmToS: number;
  /** Median RSS of the samples in the run's last window of the same length, MB. */
  endMb: number;
  endFromS: number;
  growthPct: number;
  /** The two single samples: the first at or after a quarter of the run, and the last. */
  singleWarmMb: number;
  singleEndMb: number;
  singlePct: number;
  peakMb: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
}

/**
 * RSS growth after warm-up (the first `warmUpFraction` of the run). One sample can land
 * either side of a collection, so each end is the median of the samples in a window (a
 * tenth of the run, at least 30 s).
 */
export function rssGrowth(samples: readonly Sample[], runS: number, peakMb: number, warmUpFraction = 0.25): RssGrowth {
  const windowS = Math.max(30, runS / 10);
  const warmFromS = runS * warmUpFraction;
  const inRange = (from: number, to: number): number[] =>
    samples.filter((s) => s.atS >= from - 0.5 && s.atS <= to + 0.5).map((s) => s.rssMb);
  const warmMb = median(inRange(warmFromS, warmFromS + windowS));
  const endFromS = runS - windowS;
  const endMb = median(inRange(endFromS, runS));
  const singleWarm = samples.find((s) => s.atS >= warmFromS - 0.5)?.rssMb ?? Number.NaN;
  const singleEnd = samples[samples.length - 1]?.rssMb ?? Number.NaN;
  return {
    warmMb,
    warmFromS,
    warmToS: warmFromS + windowS,
    endMb,
    endFromS,
    growthPct: ((endMb - warmMb) / warmMb) * 100,
    singleWarmMb: singleWarm,
    singleEndMb: singleEnd,
    singlePct: ((singleEnd - singleWarm) / singleWarm) * 100,
    peakMb,
  };
}

export interface StreamRow {
  name: string;
  publisher: PublisherStats;
  counts: LedgerCounts;
  problems: readonly string[];
}

const TABLE_HEAD =
  'stream  conns  abrupt orderly long  sent v  sent a  recv v  recv a  missing  unexpected  demoted renumbered  in flight (arrived)';

export function streamTable(rows: readonly StreamRow[]): string[] {
  const line = (r: StreamRow): string => {
    const c = r.counts;
    const p = r.publisher;
    return (
      `${r.name.padEnd(6)} ${pad(p.connections, 6)} ${pad(p.abruptDrops, 7)} ${pad(p.orderlyDrops, 7)} ${pad(p.longPauses, 4)} ` +
      `${pad(c.sentVideo, 7)} ${pad(c.sentAudio, 7)} ${pad(c.receivedVideo, 7)} ${pad(c.receivedAudio, 7)} ` +
      `${pad(c.missingVideo + c.missingAudio, 8)} ${pad(c.unexpected, 11)} ${pad(c.demotedIdrs, 8)} ${pad(c.renumbered, 10)} ` +
      `${pad(c.inFlightAtCut, 10)} (${c.inFlightArrived})`
    );
  };
  return [TABLE_HEAD, ...rows.map(line)];
}

/** Per-stream counts added up. */
export function totals(rows: readonly StreamRow[]): LedgerCounts & PublisherStats {
  const out: Record<string, number> = {};
  for (const r of rows) {
    for (const [k, v] of Object.entries({ ...r.counts, ...r.publisher })) out[k] = (out[k] ?? 0) + v;
  }
  return out as unknown as LedgerCounts & PublisherStats;
}
