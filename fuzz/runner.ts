/**
 * The main thread of a fuzz run: one worker per parser (a few at a time), watched through
 * shared memory. A worker whose current input runs past the per-input time bound is
 * terminated, the input recorded as a hang, and a new worker resumes after it; a worker that
 * runs out of heap is a memory finding the same way. `npm run fuzz` and test/fuzz.test.ts
 * both run this.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCorpus, makeInput, prepareTarget, targetNamed, type PreparedTarget } from './targets.js';
import type { Corpus, FuzzTarget } from './target-types.js';
import { PROGRESS_IDLE, type Counts, type ErrorReport, type WorkerJob, type WorkerMessage } from './worker.js';

export interface FuzzOptions {
  readonly parsers: readonly FuzzTarget[];
  readonly perParser: number;
  readonly runSeed: number;
  /** Wall time bound of each parser's run, in seconds. */
  readonly maxSeconds: number;
  /** An input still running after this long is a hang. */
  readonly inputTimeoutMs: number;
  /** Heap growth over a parser's run (after full collections) above this fails it. */
  readonly maxHeapGrowthBytes: number;
  /** Old-generation limit of each worker: running out of it is a memory finding. */
  readonly workerHeapMb: number;
  /** Parsers run at the same time. */
  readonly jobs: number;
  /** Where failing inputs are written. */
  readonly outDir: string;
  readonly fixtureDir?: string;
  readonly log?: (line: string) => void;
}

export type FindingKind = 'exception' | 'hang' | 'memory' | 'harness';

export interface Finding {
  readonly parser: string;
  readonly kind: FindingKind;
  readonly index: number;
  readonly error: ErrorReport;
  /** The saved input (bytes, and a .json beside it), when it could be made again. */
  file?: string;
}

export interface ParserReport {
  readonly name: string;
  readonly what: string;
  readonly requested: number;
  inputs: number;
  /** Wall time of the parser's run, workers' setup included. */
  seconds: number;
  /** Time in the input loops: what inputs/s is counted against. */
  loopSeconds: number;
  /** `result:<label>`, `coded:<code>`, `other:<name>` -> inputs. */
  counts: Map<string, number>;
  findings: Finding[];
  /** Heap used, after full collections, before the first input and after the last, of the worker that finished the run (a hang starts a new one). */
  heapBeforeBytes: number;
  heapAfterBytes: number;
  heapGrowthBytes: number;
  stoppedByTime: boolean;
}

export interface FuzzReport {
  readonly runSeed: number;
  readonly parsers: ParserReport[];
  readonly findings: Finding[];
  readonly failed: boolean;
}

/** A parser that spends this long on one small input is stuck: the slowest take well under 10 ms. */
export const DEFAULT_INPUT_TIMEOUT_MS = 2000;
/**
 * Heap growth allowed over a parser's whole run, after full collections. What stays is the
 * code V8 compiled and its type feedback (at most 0.5 MiB over a million inputs, measured); a
 * leak of 8 bytes per input would leave 8 MiB after a million inputs.
 */
export const MAX_HEAP_GROWTH_BYTES = 8 * 2 ** 20;
/** Old generation of each worker: ten times what a run needs, so only a runaway input reaches it. */
export const WORKER_HEAP_MB = 512;

/** How often the main thread looks at a worker's current input. */
const WATCH_EVERY_MS = 100;
/** Setting up a worker (loading TypeScript, reading the fixtures) may take this long. */
const SETUP_TIMEOUT_MS = 120_000;

interface Segment {
  readonly next: number;
  readonly counts: Counts;
  readonly done: Extract<WorkerMessage, { type: 'done' }> | null;
  /** The worker's wall time, for a segment that did not finish (its loop time is not known). */
  readonly seconds: number;
  /** Why the worker was stopped, if it was. */
  readonly stopped: { kind: FindingKind; index: number; error: ErrorReport } | null;
}

function errorReport(name: string, message: string): ErrorReport {
  return { name, message, stack: '' };
}

/** A worker kept from one parser to the next (loading it costs more than a CI-sized run of most parsers). */
interface Lane {
  worker: Worker | null;
}

function stopped(kind: FindingKind, index: number, error: ErrorReport): Pick<Segment, 'done' | 'stopped'> {
  return { done: null, stopped: { kind, index, error } };
}

/** Runs the lane's worker (a new one if it has none) over [start, end) minus `skip` until it ends, hangs or dies. */
function runSegment(
  lane: Lane,
  job: Omit<WorkerJob, 'progress'>,
  options: FuzzOptions,
  report: ParserReport,
): Promise<Segment> {
  const progress = new SharedArrayBuffer(4);
  const slot = new Int32Array(progress);
  Atomics.store(slot, 0, PROGRESS_IDLE);
  const worker =
    lane.worker ??
    new Worker(new URL('./worker-entry.js', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: options.workerHeapMb },
    });
  lane.worker = worker;
  return new Promise((resolve) => {
    let last: { next: number; counts: Counts } = { next: job.start, counts: [] };
    let watched = { index: PROGRESS_IDLE, sinceMs: Date.now() };
    const startedMs = Date.now();
    const finish = (segment: Pick<Segment, 'done' | 'stopped'>, stop: boolean): void => {
      clearInterval(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (stop || segment.done === null) {
        // What a dying worker still reports (running out of heap while being stopped) is no news.
        worker.on('error', () => {});
        void worker.terminate();
        lane.worker = null;
      }
      const seconds = (Date.now() - startedMs) / 1000;
      const reached = segment.done !== null ? { next: segment.done.next, counts: segment.done.counts } : last;
      resolve({ ...segment, seconds, ...reached });
    };
    const timer = setInterval(() => {
      const index = Atomics.load(slot, 0);
      const now = Date.now();
      if (index !== watched.index) watched = { index, sinceMs: now };
      const limit = index === PROGRESS_IDLE ? SETUP_TIMEOUT_MS : options.inputTimeoutMs;
      if (index >= PROGRESS_IDLE && now - watched.sinceMs > limit) {
        const error = errorReport('Hang', `input ${index} still running after ${now - watched.sinceMs} ms`);
        finish(stopped(index === PROGRESS_IDLE ? 'harness' : 'hang', index, error), true);
      }
    }, WATCH_EVERY_MS);
    const onMessage = (message: WorkerMessage): void => {
      if (message.type === 'progress') last = { next: message.next, counts: message.counts };
      else if (message.type === 'finding')
        recordFinding(report, { parser: report.name, kind: 'exception', index: message.index, error: message.error });
      else finish({ done: message, stopped: null }, false);
    };
    const onError = (err: Error & { code?: string }): void => {
      const kind: FindingKind = err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'harness';
      finish(
        stopped(kind, Atomics.load(slot, 0), { name: err.name, message: err.message, stack: err.stack ?? '' }),
        true,
      );
    };
    const onExit = (code: number): void => {
      finish(stopped('harness', Atomics.load(slot, 0), errorReport('Exit', `worker exited with code ${code}`)), false);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage({ ...job, progress } satisfies WorkerJob);
  });
}

/** Findings by index: a resumed worker runs some inputs again and may report them twice. */
function recordFinding(report: ParserReport, finding: Finding): void {
  if (!report.findings.some((f) => f.index === finding.index && f.kind === finding.kind)) report.findings.push(finding);
}

async function fuzzParser(lane: Lane, target: FuzzTarget, options: FuzzOptions): Promise<ParserReport> {
  const report: ParserReport = {
    name: target.name,
    what: target.what,
    requested: options.perParser,
    inputs: 0,
    seconds: 0,
    loopSeconds: 0,
    counts: new Map(),
    findings: [],
    heapBeforeBytes: 0,
    heapAfterBytes: 0,
    heapGrowthBytes: 0,
    stoppedByTime: false,
  };
  const startedMs = Date.now();
  const deadlineMs = startedMs + options.maxSeconds * 1000;
  const skip: number[] = [];
  let start = 0;
  let base = new Map<string, number>();
  for (;;) {
    const job = {
      target: target.name,
      runSeed: options.runSeed,
      start,
      end: options.perParser,
      skip: [...skip],
      deadlineMs,
      fixtureDir: options.fixtureDir,
    };
    const segment = await runSegment(lane, job, options, report);
    // The segment's counts cover [start, segment.next): add them to what earlier segments counted.
    const merged = new Map(base);
    for (const [key, n] of segment.counts) merged.set(key, (merged.get(key) ?? 0) + n);
    report.counts = merged;
    report.loopSeconds += segment.done !== null ? segment.done.loopMs / 1000 : segment.seconds;
    if (segment.done !== null) {
      report.heapBeforeBytes = segment.done.heapBeforeBytes;
      report.heapAfterBytes = segment.done.heapAfterBytes;
      report.heapGrowthBytes = segment.done.heapAfterBytes - segment.done.heapBeforeBytes;
      report.stoppedByTime = segment.done.stoppedByTime;
      break;
    }
    const stopped = segment.stopped as NonNullable<Segment['stopped']>;
    recordFinding(report, { parser: target.name, kind: stopped.kind, index: stopped.index, error: stopped.error });
    if (stopped.kind === 'harness' || stopped.index < 0) break; // nothing to skip: it would fail again
    count(merged, `${stopped.kind}:${stopped.error.name}`);
    options.log?.(`${target.name}: ${stopped.kind} at input ${stopped.index}; resuming after it`);
    skip.push(stopped.index);
    base = merged;
    start = segment.next;
  }
  report.inputs = [...report.counts.values()].reduce((a, b) => a + b, 0);
  report.seconds = (Date.now() - startedMs) / 1000;
  if (report.heapGrowthBytes > options.maxHeapGrowthBytes) {
    const growthMb = (report.heapGrowthBytes / 2 ** 20).toFixed(1);
    const error = errorReport(
      'HeapGrowth',
      `heap grew ${growthMb} MiB over the run, above ${options.maxHeapGrowthBytes / 2 ** 20} MiB`,
    );
    report.findings.push({ parser: target.name, kind: 'memory', index: -1, error });
  }
  return report;
}

function count(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Writes each finding's input (made again from its index) and a JSON description beside it. */
export function saveFindings(
  findings: Finding[],
  options: Pick<FuzzOptions, 'outDir' | 'runSeed' | 'fixtureDir'>,
): void {
  const inputs = findings.filter((f) => f.index >= 0);
  if (inputs.length === 0) return;
  mkdirSync(options.outDir, { recursive: true });
  let corpus: Corpus | null = null;
  const prepared = new Map<string, PreparedTarget>();
  for (const finding of inputs) {
    corpus ??= buildCorpus(options.fixtureDir);
    let target = prepared.get(finding.parser);
    if (target === undefined) {
      target = prepareTarget(targetNamed(finding.parser), corpus);
      prepared.set(finding.parser, target);
    }
    const input = makeInput(target, options.runSeed, finding.index);
    const file = join(options.outDir, `${finding.parser}-seed${options.runSeed}-input${finding.index}.bin`);
    writeFileSync(file, input.bytes);
    const description = {
      ...finding,
      file: undefined,
      runSeed: options.runSeed,
      pieces: input.pieces,
      choice: input.choice,
    };
    writeFileSync(`${file.slice(0, -4)}.json`, `${JSON.stringify(description, null, 2)}\n`);
    finding.file = file;
  }
}

/** Fuzzes every parser of `options.parsers`, `options.jobs` at a time; saves what it finds. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const queue = [...options.parsers];
  const reports = new Map<string, ParserReport>();
  const work = async (): Promise<void> => {
    const lane: Lane = { worker: null };
    for (let target = queue.shift(); target !== undefined; target = queue.shift()) {
      options.log?.(`${target.name}: ${options.perParser} inputs (${target.what})`);
      const report = await fuzzParser(lane, target, options);
      reports.set(target.name, report);
      options.log?.(`${target.name}: ${report.inputs} inputs in ${report.seconds.toFixed(1)} s`);
    }
    await lane.worker?.terminate();
  };
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, work));
  const parsers = options.parsers.map((t) => reports.get(t.name) as ParserReport);
  const findings = parsers.flatMap((p) => p.findings);
  saveFindings(findings, options);
  return { runSeed: options.runSeed, parsers, findings, failed: findings.length > 0 };
}
