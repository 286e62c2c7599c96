/**
 * `npm run fuzz`: every parser (handshake, chunk stream, AMF0, FLV reader, AVC configuration,
 * SPS, PPS, slice header, NAL framing, ADTS, AudioSpecificConfig, video and audio tag headers)
 * fed a million mutated and generated inputs seeded from real streams. Every input must end in
 * a result or a coded error, within a time bound per input, with the heap back where it was.
 * Prints the figures; exits 1 on any finding, having saved each failing input.
 *
 *   npm run fuzz [-- --per-parser N] [--max-seconds S] [--parser NAME[,NAME]] [--seed N]
 *                [--jobs N] [--input-timeout-ms MS] [--out DIR]
 *   npm run fuzz -- --parser NAME --seed N --index I     replay one input of a run
 *   npm run fuzz -- --parser NAME --replay FILE          replay a saved input
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureFixtures } from '../fixtures/generate.js';
import { findingsText, figuresTable, outcomesText } from './report.js';
import {
  DEFAULT_INPUT_TIMEOUT_MS,
  MAX_HEAP_GROWTH_BYTES,
  WORKER_HEAP_MB,
  runFuzz,
  type FuzzOptions,
} from './runner.js';
import { missingSeedFixtures } from './seeds.js';
import { TARGETS, buildCorpus, makeInput, prepareTarget, runInput, targetNamed } from './targets.js';
import type { FuzzInput } from './target-types.js';

/** The full run: a million inputs per parser. */
const FULL_INPUTS_PER_PARSER = 1_000_000;
/** Per parser: the slowest (chunk stream, FLV reader) took 5 minutes on a busy 2-core machine. */
const DEFAULT_MAX_SECONDS = 3600;

const HELP = `npm run fuzz -- [options]
  --per-parser N        inputs per parser (default ${FULL_INPUTS_PER_PARSER})
  --max-seconds S       wall time bound of each parser's run (default ${DEFAULT_MAX_SECONDS})
  --parser NAME[,NAME]  only these parsers (default all): ${TARGETS.map((t) => t.name).join(', ')}
  --seed N              run seed (default 1): input i of a parser is a function of (parser, seed, i)
  --jobs N              parsers fuzzed at the same time (default 1)
  --input-timeout-ms MS an input running longer is a hang (default ${DEFAULT_INPUT_TIMEOUT_MS})
  --out DIR             where failing inputs are written (default ${join(tmpdir(), 'rinse-fuzz')})
  --index I             with --parser and --seed: run input I alone, in this process
  --replay FILE         with --parser: run a saved input alone
`;

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n`);
  process.exit(2);
}

function numberOption(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value < 0) fail(`${name} needs a number`);
  return value;
}

function stringOption(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined) fail(`${name} needs a value`);
  return value;
}

async function ensureSeedFixtures(): Promise<void> {
  const missing = missingSeedFixtures();
  if (missing.length === 0) return;
  process.stderr.write(`fuzz: generating the fixtures the seeds come from (${missing.join(', ')} missing)\n`);
  try {
    await ensureFixtures();
  } catch (err) {
    fail(
      `could not generate the fixtures (${err instanceof Error ? err.message : String(err)}); run \`npm run fixtures\``,
    );
  }
}

/** Runs one input in this process and prints what it did. */
function replayOne(args: string[], parser: string, runSeed: number): number {
  const prepared = prepareTarget(targetNamed(parser), buildCorpus());
  const file = stringOption(args, '--replay');
  let input: FuzzInput;
  if (file !== undefined) {
    const bytes = readFileSync(file);
    const json = `${file.replace(/\.bin$/, '')}.json`;
    const saved = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as Partial<FuzzInput>) : {};
    input = {
      bytes,
      pieces: saved.pieces ?? (prepared.target.push ? [bytes.length] : null),
      choice: saved.choice ?? 0,
    };
  } else {
    input = makeInput(prepared, runSeed, numberOption(args, '--index', 0));
  }
  process.stdout.write(`${parser}: ${input.bytes.length} bytes: ${input.bytes.toString('hex').slice(0, 160)}\n`);
  const started = performance.now();
  const outcome = runInput(prepared.run, input);
  const ms = (performance.now() - started).toFixed(2);
  if (outcome.kind === 'result') process.stdout.write(`result (${outcome.label}) in ${ms} ms\n`);
  else if (outcome.kind === 'coded') process.stdout.write(`coded error ${outcome.code} in ${ms} ms\n`);
  else {
    process.stdout.write(
      `OTHER EXCEPTION in ${ms} ms:\n${outcome.error instanceof Error ? outcome.error.stack : String(outcome.error)}\n`,
    );
    return 1;
  }
  return 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(HELP);
    return;
  }
  const names = stringOption(args, '--parser')?.split(',') ?? TARGETS.map((t) => t.name);
  const parsers = names.map((name) => {
    try {
      return targetNamed(name);
    } catch (err) {
      return fail((err as Error).message);
    }
  });
  const runSeed = numberOption(args, '--seed', 1);
  await ensureSeedFixtures();
  if (args.includes('--index') || args.includes('--replay')) {
    if (parsers.length !== 1) fail('--index and --replay need one --parser');
    process.exitCode = replayOne(args, (parsers[0] as (typeof parsers)[0]).name, runSeed);
    return;
  }
  const options: FuzzOptions = {
    parsers,
    perParser: numberOption(args, '--per-parser', FULL_INPUTS_PER_PARSER),
    runSeed,
    maxSeconds: numberOption(args, '--max-seconds', DEFAULT_MAX_SECONDS),
    inputTimeoutMs: numberOption(args, '--input-timeout-ms', DEFAULT_INPUT_TIMEOUT_MS),
    maxHeapGrowthBytes: MAX_HEAP_GROWTH_BYTES,
    workerHeapMb: WORKER_HEAP_MB,
    jobs: numberOption(args, '--jobs', 1),
    outDir: resolve(stringOption(args, '--out') ?? join(tmpdir(), 'rinse-fuzz', `seed${runSeed}-${Date.now()}`)),
    log: (line) => process.stderr.write(`fuzz: ${line}\n`),
  };
  const report = await runFuzz(options);
  process.stdout.write(`\n${figuresTable(report)}\n\n${outcomesText(report)}\n\n${findingsText(report)}\n`);
  if (report.failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
