/**
 * One fuzz target's loop, in a worker thread so the main thread can stop it when an input
 * hangs. The index of the input being run is kept in shared memory (no message per input);
 * counts go to the main thread every PROGRESS_EVERY inputs, findings at once. Heap use is
 * measured after a full collection before the first input and after the last.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { buildCorpus, makeInput, prepareTarget, runInput, targetNamed, type PreparedTarget } from './targets.js';
import type { Corpus } from './target-types.js';

/** What the main thread asks of a worker. */
export interface WorkerJob {
  readonly target: string;
  readonly runSeed: number;
  /** Inputs start..end-1, but not those in `skip` (inputs that hung a worker before). */
  readonly start: number;
  readonly end: number;
  readonly skip: readonly number[];
  /** Epoch ms after which no new input starts. */
  readonly deadlineMs: number;
  readonly fixtureDir: string | undefined;
  /** Int32 slot 0: the index being run; -1 while setting up, -2 once the loop is over. */
  readonly progress: SharedArrayBuffer;
}

export type Counts = [string, number][];

export interface ErrorReport {
  readonly name: string;
  readonly message: string;
  readonly stack: string;
}

export type WorkerMessage =
  | { readonly type: 'progress'; readonly next: number; readonly counts: Counts }
  | { readonly type: 'finding'; readonly index: number; readonly error: ErrorReport }
  | {
      readonly type: 'done';
      readonly next: number;
      readonly counts: Counts;
      readonly heapBeforeBytes: number;
      readonly heapAfterBytes: number;
      readonly stoppedByTime: boolean;
      /** Time spent in the loop (setup and heap measurements left out). */
      readonly loopMs: number;
    };

export const PROGRESS_IDLE = -1;
export const PROGRESS_OVER = -2;
/** Inputs between two progress messages: often enough to resume close to a hang. */
const PROGRESS_EVERY = 4096;
/** Inputs between two looks at the clock. */
const CLOCK_EVERY = 256;
/** Frames kept in a finding's stack. */
const FINDING_STACK_FRAMES = 30;

/** A full collection: the gc function, exposed to this worker alone. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapUsed(gc: () => void): number {
  // Twice: the first pass may only queue finalizers and weak callbacks.
  gc();
  gc();
  return getHeapStatistics().used_heap_size;
}

function describe(err: unknown): ErrorReport {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack ?? '' };
  return { name: typeof err, message: String(err), stack: '' };
}

/** Runs the input again with stack traces on, for the report (the loop runs without them). */
function findingError(prepared: PreparedTarget, job: WorkerJob, index: number, first: unknown): ErrorReport {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = FINDING_STACK_FRAMES;
  try {
    const again = runInput(prepared.run, makeInput(prepared, job.runSeed, index));
    return describe(again.kind === 'other' ? again.error : first);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Built once per worker: a worker runs one parser after another. */
let corpus: { dir: string | undefined; corpus: Corpus } | null = null;
let gc: (() => void) | null = null;

function runJob(job: WorkerJob, port: NonNullable<typeof parentPort>): void {
  const progress = new Int32Array(job.progress);
  Atomics.store(progress, 0, PROGRESS_IDLE);
  gc ??= collector();
  if (corpus === null || corpus.dir !== job.fixtureDir)
    corpus = { dir: job.fixtureDir, corpus: buildCorpus(job.fixtureDir) };
  const prepared = prepareTarget(targetNamed(job.target), corpus.corpus);
  const skip = new Set(job.skip);
  const counts = new Map<string, number>();
  const count = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
  const heapBeforeBytes = heapUsed(gc);
  // Coded errors are the common outcome; their stack traces would cost more than the parsing.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let next = job.start;
  let stoppedByTime = false;
  const loopStartedMs = performance.now();
  for (; next < job.end; next++) {
    if (next % CLOCK_EVERY === 0 && Date.now() > job.deadlineMs) {
      stoppedByTime = true;
      break;
    }
    if (next % PROGRESS_EVERY === 0 && next > job.start)
      port.postMessage({ type: 'progress', next, counts: [...counts] });
    if (skip.has(next)) continue;
    Atomics.store(progress, 0, next);
    const outcome = runInput(prepared.run, makeInput(prepared, job.runSeed, next));
    if (outcome.kind === 'result') count(`result:${outcome.label}`);
    else if (outcome.kind === 'coded') count(`coded:${outcome.code}`);
    else {
      const error = findingError(prepared, job, next, outcome.error);
      count(`other:${error.name}`);
      port.postMessage({ type: 'finding', index: next, error });
    }
  }
  const loopMs = performance.now() - loopStartedMs;
  Atomics.store(progress, 0, PROGRESS_OVER);
  Error.stackTraceLimit = stackTraceLimit;
  const heapAfterBytes = heapUsed(gc);
  port.postMessage({ type: 'done', next, counts: [...counts], heapBeforeBytes, heapAfterBytes, stoppedByTime, loopMs });
}

const port = parentPort;
if (port !== null) port.on('message', (job: WorkerJob) => runJob(job, port));
