/**
 * A target that misbehaves on purpose, so a test can check the runner itself: by its one
 * byte, an input hangs, throws a plain TypeError, or allocates until the worker's heap is
 * gone (each about one input in 64); the rest end in a result or a coded error. It is not
 * among the parsers a run fuzzes.
 */
import { MediaFormatError, MediaFormatErrorCode } from '../src/flv/errors.js';
import type { FuzzTarget } from './target-types.js';

export const SelfTestBehaviour = { HANG: 1, THROW: 2, RUNAWAY: 3 } as const;
/** Each misbehaviour takes one value of the input's first byte out of this many. */
const VALUES = 64;

function runaway(): never {
  const kept: number[][] = [];
  for (;;) kept.push(new Array<number>(1 << 16).fill(1.5));
}

export const selfTest: FuzzTarget = {
  name: 'self-test',
  what: 'the runner: a hang, an uncoded exception and a runaway heap, on purpose',
  push: false,
  maxBytes: 1,
  generatedPercent: 100,
  dictionary: [],
  seeds: () => [{ bytes: Buffer.from([0]) }],
  generate: (rng) => Buffer.from([rng.below(VALUES)]),
  prepare: () => (input) => {
    const value = input.bytes[0] as number;
    if (value === SelfTestBehaviour.HANG) for (;;);
    if (value === SelfTestBehaviour.THROW) throw new TypeError('thrown on purpose');
    if (value === SelfTestBehaviour.RUNAWAY) runaway();
    if (value % 2 === 0) throw new MediaFormatError(MediaFormatErrorCode.FLV_TAG, 'coded on purpose');
    return 'ok';
  },
};
