/**
 * `npm run bench` (`npm run bench -- --quick` in CI): added latency, cost per stream and scale
 * of rinse against peers in the same run, plus offline throughput. Prints a table, writes
 * bench/results/<date>.json, and reports each target as hit or miss. It fails only when the
 * benchmark cannot run, never on a figure.
 *
 * Live paths (127.0.0.1, one machine; the publisher and the receiver live in this process and
 * share its clock):
 *   direct                    publisher -> receiver (the baseline, subtracted)
 *   rinse remux               publisher -> rinse serve -> receiver
 *   rinse transcode           publisher -> rinse serve --transcode always -> receiver
 *   ffmpeg -c copy            publisher -> ffmpeg -listen 1 ... -c copy -> receiver
 *   ffmpeg libx264 (seed)     publisher -> ffmpeg -listen 1 ... libx264 (seed's settings) -> receiver
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, type } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { requireTool } from '../src/tools/ffmpeg-locator.js';
import { runTool } from '../src/tools/run-tool.js';
import { FIX_RUNS, type OfflineResult } from './offline.js';
import {
  Receiver,
  cpuSeconds,
  threadCpuSeconds,
  latency,
  loadTags,
  memoryMb,
  publish,
  sleep,
  startFfmpegRelay,
  startRinse,
  arrivalOffset,
  type LatencyStats,
  type RelayProcess,
} from './live.js';
import { benchSource } from './bench-source.js';
import { ProcessSampler } from './process-sampler.js';
import { findNginxRtmp, NGINX_INSTALL_HINT, startNginxRelay, type NginxRtmp } from './nginx-relay.js';
import { nginxLines, type IdleFigures } from './nginx-compare.js';

const quick = process.argv.includes('--quick');
const LATENCY_SECONDS = quick ? 8 : 30;
const WARMUP_FRAMES = quick ? 60 : 150;
const SCALE_NS = quick ? [1, 20] : [1, 20, 100];
/** CPU per stream is measured after this many seconds of a scale run (steady state). */
const STEADY_AFTER_S = quick ? 2 : 5;
/** How long the relays sit with no stream for the idle figure, in s. */
const IDLE_S = quick ? 5 : 10;
/**
 * How long after start the idle measurement begins, in s: V8's memory reducer runs up to
 * three full collections in the first half minute of a process that has stopped allocating
 * (a one-off of some 50 ms), which is start-up, not idling.
 */
const IDLE_SETTLE_S = quick ? 12 : 30;
/** nginx-rtmp's row name; null tool: not installed, skipped. */
const NGINX_PATH = 'nginx-rtmp push';
const nginx = findNginxRtmp();
/** Full run: the search for the largest N goes on in steps of this many streams ... */
const SEARCH_STEP = 50;
/** ... up to this many (the harness shares the machine: 2 cores were saturated near 300). */
const SEARCH_MAX_STREAMS = 500;
const SCALE_SECONDS = quick ? 6 : 20;
const FIX_MB = quick ? 20 : 100;
const ffmpeg = requireTool('ffmpeg').path;

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

interface PathResult {
  name: string;
  latency: LatencyStats;
  addedP50: number;
  addedP95: number;
  addedP99: number;
  addedMax: number;
  /** CPU seconds per media second of the relay process. */
  cpuPerMediaSecond: number | null;
  peakRssMb: number | null;
}

async function measurePath(
  name: string,
  receiver: Receiver,
  tags: ReturnType<typeof loadTags>,
  start: (stream: string) => Promise<RelayProcess | null>,
  stream: string,
): Promise<{ name: string; latency: LatencyStats; cpu: number | null; peak: number | null }> {
  const relay = await start(stream);
  const path = relay ? `live/out/${stream}` : `live/direct/${stream}`;
  const arrivals = receiver.watch(path);
  const pid = relay?.child.pid;
  const sampler = pid ? new ProcessSampler(pid) : null;
  const url = relay ? relay.ingestUrl(stream) : receiver.url(`live/direct/${stream}`);
  const keys: string[] = [];
  const sends = await publish(url, tags, LATENCY_SECONDS, undefined, keys);
  await sleep(1500); // let a transcode hand over its last frames
  sampler?.stop();
  const cpu = sampler ? sampler.cpuSeconds / LATENCY_SECONDS : null;
  const peak = sampler ? sampler.peakRssMb : null;
  await relay?.stop();
  const stats = latency(sends, arrivals, WARMUP_FRAMES, arrivalOffset(keys, receiver.keysOf(path)));
  log(
    `${name}: ${stats.frames} frames, p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms${cpu !== null ? `, ${(cpu * 100).toFixed(2)}% of a core` : ''}`,
  );
  return { name, latency: stats, cpu, peak };
}

async function liveLatency(receiver: Receiver, tags: ReturnType<typeof loadTags>): Promise<PathResult[]> {
  const runs = [
    await measurePath('direct', receiver, tags, async () => null, 'd1'),
    await measurePath('rinse remux', receiver, tags, () => startRinse(receiver), 'r1'),
    await measurePath('rinse transcode', receiver, tags, () => startRinse(receiver, ['--transcode', 'always']), 't1'),
    await measurePath('ffmpeg -c copy', receiver, tags, (s) => startFfmpegRelay(ffmpeg, receiver, s, 'copy'), 'c1'),
    await measurePath(
      'ffmpeg libx264 (seed)',
      receiver,
      tags,
      (s) => startFfmpegRelay(ffmpeg, receiver, s, 'seed'),
      's1',
    ),
    ...(nginx === null
      ? []
      : [await measurePath(NGINX_PATH, receiver, tags, () => startNginxRelay(nginx, receiver), 'x1')]),
  ];
  const direct = runs[0]!.latency;
  return runs.map((r) => ({
    name: r.name,
    latency: r.latency,
    addedP50: r.latency.p50 - direct.p50,
    addedP95: r.latency.p95 - direct.p95,
    addedP99: r.latency.p99 - direct.p99,
    addedMax: r.latency.max - direct.max,
    cpuPerMediaSecond: r.cpu,
    peakRssMb: r.peak,
  }));
}

interface ScaleResult {
  /** Which relay: rinse remux, or nginx-rtmp push. */
  relay: string;
  streams: number;
  framesMatched: number;
  addedP99: number;
  cpuPercentOfCorePerStream: number;
  rssMb: number;
  peakRssMb: number;
}

async function scale(receiver: Receiver, tags: ReturnType<typeof loadTags>, directP99: number): Promise<ScaleResult[]> {
  const out: ScaleResult[] = [];
  for (const n of SCALE_NS) {
    out.push(await scalePoint(receiver, tags, directP99, n));
    if (nginx !== null) out.push(await scalePoint(receiver, tags, directP99, n, NGINX_PATH));
  }
  // Full run: past the fixed points, more streams in steps until p99 added exceeds 50 ms.
  if (!quick) {
    for (let n = SEARCH_STEP + (SCALE_NS.at(-1) as number); n <= SEARCH_MAX_STREAMS; n += SEARCH_STEP) {
      const row = await scalePoint(receiver, tags, directP99, n);
      out.push(row);
      if (!(row.addedP99 <= 50)) break;
    }
  }
  return out;
}

async function scalePoint(
  receiver: Receiver,
  tags: ReturnType<typeof loadTags>,
  directP99: number,
  n: number,
  relayName = 'rinse remux',
): Promise<ScaleResult> {
  const relay =
    relayName === NGINX_PATH ? await startNginxRelay(nginx as NginxRtmp, receiver) : await startRinse(receiver);
  const pid = relay.child.pid as number;
  const tag = relayName === NGINX_PATH ? 'x' : 'n';
  const streams = Array.from({ length: n }, (_, i) => `${tag}${n}-${i}`);
  const arrivals = streams.map((s) => receiver.watch(`live/out/${s}`));
  const keys = streams.map((): string[] => []);
  const cpu0 = cpuSeconds(pid);
  const sampler = new ProcessSampler(pid);
  // Staggered starts so 100 publishers do not send their keyframes in the same millisecond.
  const t0 = performance.now() + 200;
  // CPU in the steady state: the first seconds (connects, the first GOPs) left out.
  let cpuSteady0 = cpu0;
  const steadyTimer = setTimeout(() => (cpuSteady0 = cpuSeconds(pid)), 200 + STEADY_AFTER_S * 1000);
  const sends = await Promise.all(
    streams.map((s, i) =>
      publish(relay.ingestUrl(s), tags, SCALE_SECONDS, t0 + (i * 33) / Math.max(1, n / 30), keys[i] as string[]),
    ),
  );
  clearTimeout(steadyTimer);
  const cpu = cpuSeconds(pid) - cpuSteady0;
  const mem = memoryMb(pid);
  sampler.stop();
  await relay.stop();
  const all: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = sends[i] as number[];
    const a = arrivals[i] as number[];
    const offset = arrivalOffset(keys[i] as string[], receiver.keysOf(`live/out/${streams[i] as string}`));
    const m = Math.min(s.length - offset, a.length);
    for (let k = WARMUP_FRAMES / 2; k < m; k++) all.push((a[k] as number) - (s[k + offset] as number));
  }
  all.sort((x, y) => x - y);
  const p99 = all.length ? (all[Math.min(all.length - 1, Math.ceil(0.99 * all.length) - 1)] as number) : Number.NaN;
  const row: ScaleResult = {
    relay: relayName,
    streams: n,
    framesMatched: all.length,
    addedP99: p99 - directP99,
    cpuPercentOfCorePerStream: (100 * cpu) / (SCALE_SECONDS - STEADY_AFTER_S) / n,
    rssMb: mem.rss,
    peakRssMb: mem.peak,
  };
  log(
    `${relayName} at ${n}: p99 added ${row.addedP99.toFixed(2)} ms, ${row.cpuPercentOfCorePerStream.toFixed(3)}% of a core per stream, peak RSS ${row.peakRssMb.toFixed(1)} MB`,
  );
  await sleep(500);
  return row;
}

/** CPU with no stream at all: rinse (and nginx-rtmp) started and left alone, % of a core. */
async function idleCpu(receiver: Receiver): Promise<IdleFigures> {
  const measure = async (relay: RelayProcess): Promise<number> => {
    await sleep(IDLE_SETTLE_S * 1000);
    const pid = relay.child.pid as number;
    const cpu0 = threadCpuSeconds(pid);
    await sleep(IDLE_S * 1000);
    const percent = (100 * (threadCpuSeconds(pid) - cpu0)) / IDLE_S;
    await relay.stop();
    return percent;
  };
  const rinse = await measure(await startRinse(receiver));
  const peer = nginx === null ? null : await measure(await startNginxRelay(nginx, receiver));
  log(
    `idle ${IDLE_S} s: rinse ${rinse.toFixed(3)} %, nginx-rtmp ${peer === null ? 'n/a' : peer.toFixed(3)} % of a core`,
  );
  return { rinse, nginx: peer, seconds: IDLE_S };
}

/**
 * Offline throughput, measured in a process of its own (bench/offline.ts) so the live
 * harness's heap (source tags, a receiver that has served hundreds of sessions) does not
 * slow its collections.
 */
async function offline(sourceFile: string): Promise<OfflineResult> {
  const r = await runTool(
    process.execPath,
    ['--import', 'tsx', resolve(import.meta.dirname, 'offline.ts'), sourceFile, String(FIX_MB)],
    300_000,
  );
  if (r.code !== 0) throw new Error(`offline bench failed: ${r.stderr}`);
  process.stderr.write(r.stderr);
  return JSON.parse(r.stdout.toString()) as OfflineResult;
}

function fmt(n: number | null, digits = 2): string {
  return n === null || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);
}

async function main(): Promise<void> {
  const started = Date.now();
  const sourceFile = await benchSource(ffmpeg);
  const tags = loadTags(sourceFile);
  const receiver = new Receiver();
  await receiver.start();
  log(
    `${quick ? 'quick' : 'full'} run: ${LATENCY_SECONDS} s per latency path, scale N = ${SCALE_NS.join(', ')}${quick ? '' : `, then +${SEARCH_STEP} until p99 added > 50 ms (at most ${SEARCH_MAX_STREAMS})`}, ${SCALE_SECONDS} s each`,
  );
  if (nginx === null) log(`nginx-rtmp not installed: its rows are skipped (${NGINX_INSTALL_HINT})`);
  const paths = await liveLatency(receiver, tags);
  const directP99 = paths[0]!.latency.p99;
  const allScaleRows = await scale(receiver, tags, directP99);
  const idle = await idleCpu(receiver);
  await receiver.stop();
  const scaleRows = allScaleRows.filter((r) => r.relay === 'rinse remux');
  const nginxRows = allScaleRows.filter((r) => r.relay === NGINX_PATH);
  const off = await offline(sourceFile);

  const largestN = scaleRows.filter((r) => r.addedP99 <= 50).reduce((m, r) => Math.max(m, r.streams), 0);
  const { lines: targetLines, targets } = targetsOf(paths, scaleRows, off);
  const lines = [
    `rinse bench (${quick ? 'quick' : 'full'}) ${new Date().toISOString()} on ${type()} ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`,
    '',
    ...latencyLines(paths),
    '',
    ...scaleLines(scaleRows, largestN),
    '',
    ...nginxLines(paths, scaleRows, nginxRows, idle),
    '',
    ...offlineLines(off),
    '',
    ...targetLines,
    '',
    `took ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  const resultsDir = resolve(import.meta.dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(
    resultsDir,
    `${new Date()
      .toISOString()
      .replace(/[:]/g, '-')
      .replace(/\.\d+Z$/, 'Z')}${quick ? '-quick' : ''}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ quick, machine: { os: type(), cpus: cpus().length, model: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, node: process.version }, paths, scale: scaleRows, nginxScale: nginxRows, idle, offline: off, targets, largestNWithin50ms: largestN }, null, 2)}\n`,
  );
  process.stdout.write(`results: ${file}\n`);
}

function pathNamed(paths: PathResult[], name: string): PathResult {
  return paths.find((p) => p.name === name)!;
}

/** Added latency per path, and rinse against its peers. */
function latencyLines(paths: PathResult[]): string[] {
  const remux = pathNamed(paths, 'rinse remux');
  const transcode = pathNamed(paths, 'rinse transcode');
  const copy = pathNamed(paths, 'ffmpeg -c copy');
  const seed = pathNamed(paths, 'ffmpeg libx264 (seed)');
  const ratio = (a: number | null, b: number | null): string =>
    a === null || b === null || !b ? 'n/a' : (a / b).toFixed(3);
  const ratios = (a: PathResult, b: PathResult): string =>
    `${ratio(a.addedP99, b.addedP99).padStart(9)} ${ratio(a.cpuPerMediaSecond, b.cpuPerMediaSecond).padStart(6)} ${ratio(a.peakRssMb, b.peakRssMb).padStart(10)}`;
  const lines = [
    'added latency (ms, vs direct), 720p30 2.5 Mbps, 1 stream    p50      p95      p99      max   CPU %core  peak RSS MB',
  ];
  for (const p of paths.slice(1)) {
    lines.push(
      `  ${p.name.padEnd(24)} ${fmt(p.addedP50).padStart(32)} ${fmt(p.addedP95).padStart(8)} ${fmt(p.addedP99).padStart(8)} ${fmt(p.addedMax).padStart(8)} ${fmt(p.cpuPerMediaSecond === null ? null : p.cpuPerMediaSecond * 100).padStart(10)} ${fmt(p.peakRssMb, 1).padStart(12)}`,
    );
  }
  lines.push(
    `  (direct path itself: p50 ${fmt(paths[0]!.latency.p50)} ms, p99 ${fmt(paths[0]!.latency.p99)} ms over ${paths[0]!.latency.frames} frames)`,
    '',
    'ratios rinse / peer                  p99 added   CPU    peak RSS',
    `  rinse remux / ffmpeg -c copy         ${ratios(remux, copy)}`,
    `  rinse remux / ffmpeg libx264 (seed)  ${ratios(remux, seed)}`,
    `  rinse transcode / ffmpeg libx264     ${ratios(transcode, seed)}`,
  );
  return lines;
}

function scaleLines(scaleRows: ScaleResult[], largestN: number): string[] {
  const lines = ['rinse remux at N streams     p99 added ms   CPU % of a core per stream   RSS MB   peak RSS MB'];
  for (const r of scaleRows)
    lines.push(
      `  ${String(r.streams).padStart(4)} ${fmt(r.addedP99).padStart(29)} ${fmt(r.cpuPercentOfCorePerStream, 3).padStart(28)} ${fmt(r.rssMb, 1).padStart(8)} ${fmt(r.peakRssMb, 1).padStart(13)}`,
    );
  const beyond = scaleRows.find((r) => r.streams > largestN && !(r.addedP99 <= 50));
  lines.push(
    quick
      ? `  largest N tested with p99 added <= 50 ms: ${largestN} (of ${SCALE_NS.join(', ')})`
      : `  largest N with p99 added <= 50 ms: ${largestN}${beyond ? ` (${beyond.streams} streams: ${fmt(beyond.addedP99)} ms)` : ` (the search stopped at ${SEARCH_MAX_STREAMS})`}; above 100, in steps of ${SEARCH_STEP}`,
  );
  return lines;
}

function offlineLines(off: OfflineResult): string[] {
  return [
    `offline (${off.fileMB.toFixed(0)} MB FLV; measured in a process of its own)`,
    `  fix                ${fmt(off.fixMBps, 0).padStart(6)} MB/s  file to file, median of ${FIX_RUNS} runs in one process (first run ${fmt(off.fixFirstRunMBps, 0)} MB/s)`,
    `  rinse fix command  ${fmt(off.fixCliMBps, 0).padStart(6)} MB/s  end to end: node start, module loading and exit included`,
    `  FLV reader         ${fmt(off.flvReaderMBps, 0).padStart(6)} MB/s  in memory, median of ${FIX_RUNS} runs`,
    `  chunk parser       ${fmt(off.chunkParserMBps, 0).padStart(6)} MB/s  in memory, median of ${FIX_RUNS} runs (4096-byte chunks, 64 KiB reads)`,
  ];
}

/** Each target, hit or missed, and the lines that report them. */
function targetsOf(paths: PathResult[], scaleRows: ScaleResult[], off: OfflineResult) {
  const remux = pathNamed(paths, 'rinse remux');
  const s1 = scaleRows.find((r) => r.streams === 1);
  // The targets speak of 100 streams: the largest of the fixed points, not of the search.
  const sMax = scaleRows.filter((r) => SCALE_NS.includes(r.streams)).at(-1)!;
  const perStreamRssMb = scaleRows.length > 1 ? (sMax.rssMb - (s1?.rssMb ?? 0)) / (sMax.streams - 1) : Number.NaN;
  /** Two GOP caches per stream (the path's for late players, the upstream's for resume): 2 s at 2.6 Mbps each. */
  const gopCacheMb = (2 * 2 * 2.6) / 8;
  const targets = [
    { target: 'p99 added <= 5 ms at 1 stream (remux)', value: remux.addedP99, hit: remux.addedP99 <= 5 },
    { target: `p99 added <= 20 ms at ${sMax.streams} streams (remux)`, value: sMax.addedP99, hit: sMax.addedP99 <= 20 },
    {
      target: '<= 0.5% of one core per stream',
      value: sMax.cpuPercentOfCorePerStream,
      hit: sMax.cpuPercentOfCorePerStream <= 0.5,
    },
    {
      target: 'RSS growth <= 1 MB per stream beyond its GOP caches',
      value: perStreamRssMb - gopCacheMb,
      hit: perStreamRssMb - gopCacheMb <= 1,
    },
    { target: 'fix >= 500 MB/s', value: off.fixMBps, hit: off.fixMBps >= 500 },
  ];
  const lines = ['targets'];
  for (const t of targets) lines.push(`  ${t.hit ? 'HIT ' : 'MISS'}  ${t.target.padEnd(52)} ${fmt(t.value)}`);
  lines.push(`  (RSS per stream measured ${fmt(perStreamRssMb)} MB, GOP caches estimated ${fmt(gopCacheMb)} MB)`);
  return { lines, targets };
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: could not run: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
