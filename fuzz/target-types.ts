/** What a fuzz target is: one parser, how to feed it an input, and what counts as its result. */
import type { MutationContext, Seed } from './mutators.js';
import type { Rng } from './prng.js';
import type { MediaSeeds } from './seeds.js';

/** Every seed of a run: from the fixtures (seeds.ts) and from the project's writers (stream-seeds.ts). */
export interface Corpus extends MediaSeeds {
  chunkStreams: Seed[];
  amf0: Seed[];
  serverHandshakes: Seed[];
  clientHandshakes: Seed[];
}

/** One input: its bytes, the piece sizes a push parser gets them in, and a word for the target's own choices. */
export interface FuzzInput {
  readonly bytes: Buffer;
  /** Sizes that add up to bytes.length, for push parsers; null for the others. */
  readonly pieces: readonly number[] | null;
  /** Seeds the target's choices (options, which parameter sets), so they replay too. */
  readonly choice: number;
}

/**
 * Runs one input. Returns the result's label (what kind of result, for the figures); throws
 * whatever the parser throws: a CodedError is the expected answer to bad input, anything else
 * is a finding.
 */
export type RunInput = (input: FuzzInput) => string;

export interface FuzzTarget {
  readonly name: string;
  /** The code under test, for the report. */
  readonly what: string;
  /** A push parser: fed the input in pieces, as from a socket. */
  readonly push: boolean;
  /** Inputs are cut to this size. */
  readonly maxBytes: number;
  /** Percent of inputs made by `generate` (half of them mutated after); the rest mutate seeds. */
  readonly generatedPercent: number;
  readonly dictionary: readonly Buffer[];
  seeds(corpus: Corpus): readonly Seed[];
  /** A structure-aware input from scratch. */
  generate(rng: Rng): Buffer;
  /** Builds the runner once (parameter sets, options); called again for each worker. */
  prepare(corpus: Corpus): RunInput;
}

export type { MutationContext, Seed };

/** A finding inside a target's own checks: an invariant of the result that does not hold. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

/** Each piece of the input in turn (views, as a socket's reads would be). */
export function forEachPiece(input: FuzzInput, feed: (piece: Buffer) => boolean | void): void {
  const pieces = input.pieces ?? [input.bytes.length];
  let at = 0;
  for (const size of pieces) {
    if (feed(input.bytes.subarray(at, at + size)) === false) return;
    at += size;
  }
}
