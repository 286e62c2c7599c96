/**
 * `npm run soak -- --streams N --minutes M [--seed S] [--source FILE]`: N real-time
 * publishers for M minutes through the built `rinse serve` (a child process, as it is
 * launched) to a receiver, each dropping its connection at random every 30-90 s and coming
 * back. Every 10 s a line: publishers connected, frames sent and received, rinse's RSS and
 * open file descriptors. At the end: a per-stream table and the verdict, which fails on
 * any frame sent during a connection that did not arrive, RSS growth after warm-up of 5 % or
 * more, or file descriptors not back to their starting count once the streams have ended.
 *
 * Everything on 127.0.0.1. `test/soak.test.ts` runs the same code at CI size (20 x 2 min).
 * What is counted, and what the relay may change, is in soak-ledger.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BIN, BIN_NODE_FLAGS, cpuSeconds, freePort, memoryMb, serveArgs, sleep } from './live.js';
import { FrameLedger, SoakReceiver } from './soak-ledger.js';
import { SoakPublisher, SoakSource, streamRandom, type DropTiming } from './soak-publisher.js';
import { fdCount, fdDiff, fdKinds, sampleLine, takeSample, type Sample } from './soak-report.js';
import { summarise, type SoakFigures, type SoakResult } from './soak-summary.js';

export type { SoakResult } from './soak-summary.js';

export interface SoakOptions {
  streams: number;
  minutes: number;
  seed: number;
  /** An H.264 + AAC FLV, looped. */
  sourceFile: string;
  /** RSS growth is judged from this fraction of the run on (default a quarter). */
  warmUpFraction?: number;
  /** rinse's --grace-ms (its default, 10 s, unless told). */
  graceMs?: number;
  /** Each progress line as it happens. */
  log?: (line: string) => void;
  /** Write rinse's log (JSON lines, info and up) to this file. */
  rinseLogFile?: string;
}

const SAMPLE_EVERY_MS = 10_000;
/** Publishers start this far apart: rinse admits at most 20 new connections a second from one address. */
const START_STAGGER_MS = 150;
const TICK_MS = 10;
/** Past the run itself: start-up, the grace period, waiting for descriptors. */
const HARD_MARGIN_MS = 4 * 60_000;
const FD_WAIT_MS = 30_000;
const DEFAULT_GRACE_MS = 10_000;

export function dropTiming(graceMs: number): DropTiming {
  return {
    minConnectionMs: 30_000,
    maxConnectionMs: 90_000,
    minPauseMs: 200,
    maxPauseMs: 2_000,
    longPauseShare: 0.1,
    longPauseMs: graceMs + 1_500,
  };
}

/** The rinse child: its pid, the API port from its 'relay ready' line, warnings counted by message. */
class RinseChild {
  readonly child: ChildProcess;
  readonly warnings = new Map<string, number>();
  /** The first lines of each warning message, as logged. */
  readonly warningExamples: string[] = [];
  apiPort = 0;
  exitCode: number | null | undefined = undefined;
  private readonly exited: Promise<void>;

  constructor(args: string[], logFile: string | undefined) {
    this.child = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const file = logFile === undefined ? null : createWriteStream(logFile);
    let buffered = '';
    this.child.stdout?.on('data', (b: Buffer) => {
      file?.write(b);
      const parts = (buffered + b.toString()).split('\n');
      buffered = parts.pop() ?? '';
      for (const p of parts) this.onLine(p);
    });
    this.exited = new Promise((r) =>
      this.child.on('close', (code) => {
        this.exitCode = code;
        r();
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private onLine(line: string): void {
    let entry: { level?: number; msg?: string; apiPort?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry.msg === 'relay ready' && typeof entry.apiPort === 'number') this.apiPort = entry.apiPort;
    if ((entry.level ?? 0) < 40) return;
    const seen = this.warnings.get(entry.msg ?? '?') ?? 0;
    this.warnings.set(entry.msg ?? '?', seen + 1);
    if (seen < 2) this.warningExamples.push(line.slice(0, 600));
  }

  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.apiPort === 0) {
      if (this.exitCode !== undefined) throw new Error(`rinse exited (${this.exitCode}) before it was ready`);
      if (Date.now() > deadline) throw new Error(`rinse not ready within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** The counters worth reading after a soak, from /metrics. */
  async metrics(): Promise<string[]> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.apiPort}/metrics`)).text();
      const wanted =
        /^rinse_(frames_dropped_total|upstream_reconnects_total|publisher_reconnects_bridged_total|rtmp_sessions_ended_total|gap_filler_\w+)/;
      return text.split('\n').filter((l) => wanted.test(l));
    } catch (err) {
      return [`metrics unavailable: ${(err as Error).message}`];
    }
  }

  /** V8 heap used and memory outside it (buffers), MB, to tell where RSS goes. */
  async heap(): Promise<{ heapMb: number; externalMb: number }> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.apiPort}/metrics`)).text();
      const mb = (name: string): number =>
        Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / (1024 * 1024);
      return {
        heapMb: mb('rinse_process_nodejs_heap_size_used_bytes'),
        externalMb: mb('rinse_process_nodejs_external_memory_bytes'),
      };
    } catch {
      return { heapMb: Number.NaN, externalMb: Number.NaN };
    }
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    await Promise.race([this.exited, sleep(10_000)]);
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
    await this.exited;
  }
}

class SoakRun {
  private readonly receiver = new SoakReceiver();
  private readonly source: SoakSource;
  private readonly ledgers: FrameLedger[] = [];
  private readonly publishers: SoakPublisher[] = [];
  private readonly samples: Sample[] = [];
  private readonly graceMs: number;
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private readonly startTimers: NodeJS.Timeout[] = [];
  private rinse: RinseChild | null = null;
  private ticker: NodeJS.Timeout | null = null;

  constructor(private readonly o: SoakOptions) {
    this.source = new SoakSource(o.sourceFile);
    this.graceMs = o.graceMs ?? DEFAULT_GRACE_MS;
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  async run(): Promise<SoakResult> {
    const rinse = await this.setUp();
    const fdsAtStart = fdCount(rinse.pid);
    const kindsAtStart = fdKinds(rinse.pid);
    const cpuAtStart = cpuSeconds(rinse.pid);
    this.log(
      `soak: ${this.o.streams} streams x ${this.o.minutes} min, seed ${this.o.seed}, rinse pid ${rinse.pid}: ` +
        `${fdsAtStart} fds, ${memoryMb(rinse.pid).rss.toFixed(1)} MB RSS at start`,
    );
    const fdsWithStreams = await this.stream(rinse);
    const cpuS = cpuSeconds(rinse.pid) - cpuAtStart;
    const upstreamsEnded = await this.endStreams();
    const fdsBack = await this.waitForFds(rinse.pid, fdsAtStart);
    for (const l of this.ledgers) l.settle();
    const figures: SoakFigures = {
      streams: this.o.streams,
      minutes: this.o.minutes,
      seed: this.o.seed,
      warmUpFraction: this.o.warmUpFraction ?? 0.25,
      source: `${basename(this.o.sourceFile)} (${this.source.videoFrames} video + ${this.source.audioFrames} audio frames per ${(this.source.spanMs / 1000).toFixed(1)} s loop)`,
      rows: this.ledgers.map((l, i) => ({
        name: l.name,
        publisher: (this.publishers[i] as SoakPublisher).stats,
        counts: l.counts,
        problems: l.problems,
      })),
      samples: this.samples,
      peakRssMb: memoryMb(rinse.pid).peak,
      fds: { start: fdsAtStart, withStreams: fdsWithStreams, end: fdsBack.count, backAfterS: fdsBack.afterS },
      fdsLeftOpen: fdDiff(kindsAtStart, fdKinds(rinse.pid)),
      upstreamsLeft: upstreamsEnded ? 0 : this.receiver.publishing,
      rinseExit: rinse.exitCode,
      cpuPctOfCore: (cpuS / (this.o.minutes * 60)) * 100,
      warnings: rinse.warnings,
      warningExamples: rinse.warningExamples,
      metrics: await rinse.metrics(),
      loopDelayMs: { p99: this.loopDelay.percentile(99) / 1e6, max: this.loopDelay.max / 1e6 },
    };
    return summarise(figures);
  }

  private async setUp(): Promise<RinseChild> {
    if (!existsSync(resolve(import.meta.dirname, '../dist/cli.js'))) throw new Error('no dist/: npm run build first');
    await this.receiver.start();
    for (let i = 0; i < this.o.streams; i++) {
      const name = `s${String(i).padStart(2, '0')}`;
      const ledger = new FrameLedger(name, this.source);
      this.ledgers.push(ledger);
      this.receiver.watch(`live/out/${name}`, ledger);
    }
    const port = await freePort();
    const args = [...serveArgs(port, this.receiver), '--log-level', 'info', '--grace-ms', String(this.graceMs)];
    this.rinse = new RinseChild(args, this.o.rinseLogFile);
    await this.rinse.ready(30_000);
    const timing = dropTiming(this.graceMs);
    for (const [i, ledger] of this.ledgers.entries()) {
      const url = `rtmp://127.0.0.1:${port}/live/soak/${ledger.name}`;
      this.publishers.push(new SoakPublisher(url, this.source, ledger, streamRandom(this.o.seed, i), timing));
    }
    return this.rinse;
  }

  /** The streaming phase: start the publishers, sample every 10 s, stop them at the end. Returns the peak fd count. */
  private async stream(rinse: RinseChild): Promise<number> {
    this.loopDelay.enable();
    const t0 = performance.now();
    this.publishers.forEach((p, i) => this.startTimers.push(setTimeout(() => p.start(), i * START_STAGGER_MS)));
    this.ticker = setInterval(() => {
      const now = performance.now();
      for (const p of this.publishers) p.pump(now);
    }, TICK_MS);
    let peakFds = 0;
    const count = Math.round((this.o.minutes * 60_000) / SAMPLE_EVERY_MS);
    for (let k = 1; k <= count; k++) {
      await sleep(t0 + k * SAMPLE_EVERY_MS - performance.now());
      const live = this.publishers.filter((p) => p.live).length;
      // The time the sample was taken, not the one it was due: a starved harness runs late.
      const s = takeSample((performance.now() - t0) / 1000, rinse.pid, live, this.ledgers, await rinse.heap());
      this.samples.push(s);
      peakFds = Math.max(peakFds, s.fds);
      this.log(sampleLine(s, this.o.streams));
      if (rinse.exitCode !== undefined) break;
    }
    await Promise.all(this.publishers.map((p) => p.stop()));
    this.loopDelay.disable();
    return peakFds;
  }

  /** Wait for rinse to end every upstream (its grace period runs first). False if some remain. */
  private async endStreams(): Promise<boolean> {
    const deadline = Date.now() + this.graceMs + 30_000;
    while (this.receiver.publishing > 0 && Date.now() < deadline) await sleep(100);
    const pending = this.ledgers.reduce((n, l) => n + l.pending, 0);
    this.log(
      `soak: publishers stopped; upstreams still publishing ${this.receiver.publishing}; frames pending ${pending}`,
    );
    return this.receiver.publishing === 0;
  }

  private async waitForFds(pid: number, start: number): Promise<{ count: number; afterS: number }> {
    const t0 = Date.now();
    let count = fdCount(pid);
    while (count !== start && Date.now() - t0 < FD_WAIT_MS) {
      await sleep(250);
      count = fdCount(pid);
    }
    return { count, afterS: (Date.now() - t0) / 1000 };
  }

  async cleanUp(): Promise<void> {
    for (const t of this.startTimers) clearTimeout(t);
    if (this.ticker !== null) clearInterval(this.ticker);
    this.loopDelay.disable();
    await Promise.race([Promise.all(this.publishers.map((p) => p.stop())), sleep(15_000)]);
    await this.rinse?.stop();
    await this.receiver.stop();
  }
}

/** One soak, bounded by a hard timeout (the run plus start-up and the wait for the relay to let go). */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const run = new SoakRun(o);
  const hardMs = o.minutes * 60_000 + HARD_MARGIN_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`soak: hard timeout after ${hardMs / 1000} s`)), hardMs);
  });
  const running = run.run();
  // After a timeout the run is abandoned: its later failure is not news.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, timeout]);
  } finally {
    clearTimeout(timer);
    await run.cleanUp();
  }
}

const USAGE = `usage: npm run soak -- --streams N --minutes M [--seed S] [--source FILE.flv]
                        [--rinse-log FILE] [--warm-up-fraction F]
  N real-time publishers (default 50) for M minutes (default 20) through rinse serve to a receiver,
  each dropping its connection every 30-90 s and coming back. Source: the glasses-default fixture.
  RSS growth is judged from F of the run on (default 0.25; the CI-sized test uses 0.5).
  Exit 0: every frame arrived, RSS grew < 5 % after warm-up, fds back to start; 1: a check failed; 2: could not run.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '50' },
      minutes: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      source: { type: 'string' },
      'rinse-log': { type: 'string' },
      'warm-up-fraction': { type: 'string', default: '0.25' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const streams = Number(values.streams);
  const minutes = Number(values.minutes);
  const seed = Number(values.seed);
  const warmUpFraction = Number(values['warm-up-fraction']);
  if (
    !Number.isInteger(streams) ||
    streams < 1 ||
    streams > 500 ||
    !(minutes > 0 && minutes <= 240) ||
    !Number.isInteger(seed) ||
    !(warmUpFraction > 0 && warmUpFraction < 0.9)
  ) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let sourceFile = values.source;
  if (sourceFile === undefined) {
    const { ensureFixtures } = await import('../fixtures/generate.js');
    sourceFile = (await ensureFixtures()).find((f) => f.name === 'glasses-default')?.file;
    if (sourceFile === undefined) throw new Error('no glasses-default fixture');
  }
  // A last resort should the run itself hang past its own timeout.
  setTimeout(() => process.exit(2), minutes * 60_000 + HARD_MARGIN_MS + 60_000).unref();
  const result = await runSoak({
    streams,
    minutes,
    seed,
    sourceFile,
    warmUpFraction,
    log: (l) => process.stdout.write(`${l}\n`),
    ...(values['rinse-log'] !== undefined ? { rinseLogFile: values['rinse-log'] } : {}),
  });
  process.stdout.write(`${result.report.join('\n')}\n`);
  return result.pass ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(2);
    },
  );
}
