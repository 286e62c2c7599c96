/**
 * Every fuzz target, the corpus they share, and how input number `index` of a run is made:
 * a pure function of (target, run seed, index), in the worker that runs it and in the main
 * thread that saves it after a hang.
 */
import { CodedError } from '../src/media/coded-error.js';
import {
  adts,
  audioSpecificConfig,
  audioTagHeader,
  avcConfig,
  nalFraming,
  pps,
  sliceHeader,
  sps,
  videoTagHeader,
} from './codec-targets.js';
import { mutate, pieceSizes, type MutationContext, type Seed } from './mutators.js';
import { Rng, inputSeed } from './prng.js';
import { amf0, chunkParser, flvReader, handshakeClient, handshakeServer } from './protocol-targets.js';
import { mediaSeeds } from './seeds.js';
import { selfTest } from './self-test.js';
import { amf0Seeds, chunkStreamSeeds, clientHandshakeSeeds, serverHandshakeSeeds } from './stream-seeds.js';
import type { Corpus, FuzzInput, FuzzTarget, RunInput } from './target-types.js';

export const TARGETS: readonly FuzzTarget[] = [
  handshakeServer,
  handshakeClient,
  chunkParser,
  amf0,
  flvReader,
  avcConfig,
  sps,
  pps,
  sliceHeader,
  nalFraming,
  adts,
  audioSpecificConfig,
  videoTagHeader,
  audioTagHeader,
];

export function targetNamed(name: string): FuzzTarget {
  const found = [...TARGETS, selfTest].find((t) => t.name === name);
  if (found === undefined) throw new Error(`no fuzz target ${name} (${TARGETS.map((t) => t.name).join(', ')})`);
  return found;
}

/** Bytes of a chunk stream that follow a handshake in the handshake seeds. */
const CHUNK_START_BYTES = 64;

export function buildCorpus(fixtureDir?: string): Corpus {
  const media = mediaSeeds(fixtureDir);
  const chunkStreams = chunkStreamSeeds(media.sessionTags);
  const chunkStart = (chunkStreams[0] as Seed).bytes.subarray(0, CHUNK_START_BYTES);
  return {
    ...media,
    chunkStreams,
    amf0: amf0Seeds(media.scriptBodies),
    serverHandshakes: serverHandshakeSeeds(chunkStart),
    clientHandshakes: clientHandshakeSeeds(chunkStart),
  };
}

/** A target ready to run: its runner and what its inputs are made from. */
export interface PreparedTarget {
  readonly target: FuzzTarget;
  readonly run: RunInput;
  readonly context: MutationContext;
}

export function prepareTarget(target: FuzzTarget, corpus: Corpus): PreparedTarget {
  const seeds = target.seeds(corpus);
  if (seeds.length === 0) throw new Error(`fuzz target ${target.name} has no seeds: are the fixtures complete?`);
  return {
    target,
    run: target.prepare(corpus),
    context: { seeds, dictionary: target.dictionary, maxBytes: target.maxBytes },
  };
}

/** Unmutated seeds among the inputs, in percent: they keep results in the mix. */
const PLAIN_SEED_PERCENT = 3;
/** Uniformly random bytes, in percent: what no structure predicts. */
const RANDOM_BYTES_PERCENT = 2;

/** Input `index` of run `runSeed`: generated, random, a seed as it is, or (mostly) a mutated seed. */
export function makeInput(prepared: PreparedTarget, runSeed: number, index: number): FuzzInput {
  const { target, context } = prepared;
  const rng = new Rng(inputSeed(target.name, runSeed, index));
  const r = rng.below(100);
  let bytes: Buffer;
  let boundaries: readonly number[] = [];
  if (r < target.generatedPercent) {
    const generated = target.generate(rng);
    bytes = rng.chance(0.5) ? generated : mutate({ bytes: generated }, rng, context);
  } else if (r < target.generatedPercent + RANDOM_BYTES_PERCENT) {
    bytes = rng.bytes(rng.small(Math.min(target.maxBytes, 4096)));
  } else {
    const seed = rng.pick(context.seeds);
    boundaries = seed.boundaries ?? [];
    const plain = r >= 100 - PLAIN_SEED_PERCENT;
    bytes = plain ? Buffer.from(seed.bytes) : mutate(seed, rng, context);
  }
  if (bytes.length > target.maxBytes) bytes = bytes.subarray(0, target.maxBytes);
  const choice = rng.u32();
  return { bytes, pieces: target.push ? pieceSizes(bytes.length, rng, boundaries) : null, choice };
}

export type Outcome =
  | { readonly kind: 'result'; readonly label: string }
  | { readonly kind: 'coded'; readonly code: string }
  | { readonly kind: 'other'; readonly error: unknown };

/** Runs one input: a result, a coded error (the expected answer to bad input), or anything else (a finding). */
export function runInput(run: RunInput, input: FuzzInput): Outcome {
  try {
    return { kind: 'result', label: run(input) };
  } catch (err) {
    if (err instanceof CodedError && typeof err.code === 'string' && err.code.startsWith('ERR_')) {
      return { kind: 'coded', code: err.code };
    }
    return { kind: 'other', error: err };
  }
}
