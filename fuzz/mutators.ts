/**
 * Mutations of real inputs, in the style of AFL and libFuzzer: bit flips, bytes set to
 * boundary values, truncation and extension, length fields that lie, dictionary tokens,
 * splicing with another seed, and the piece sizes a push parser is fed in.
 */
import type { Rng } from './prng.js';

/** A length or count field of a seed: where a lie reaches furthest into a parser. */
export interface LengthField {
  readonly offset: number;
  readonly width: 1 | 2 | 3 | 4;
  readonly littleEndian?: boolean;
}

/** One real input and what is known of its layout. */
export interface Seed {
  readonly bytes: Buffer;
  readonly lengths?: readonly LengthField[];
  /** Offsets where a header starts: where a split hurts a push parser most. */
  readonly boundaries?: readonly number[];
}

export interface MutationContext {
  readonly seeds: readonly Seed[];
  /** Tokens the format is made of (markers, FourCCs, start codes). */
  readonly dictionary: readonly Buffer[];
  /** Inputs are cut to this size: bigger ones only slow the run down. */
  readonly maxBytes: number;
}

/** The byte values at the signed/unsigned edges. */
export const BOUNDARY_BYTES = [0x00, 0x7f, 0x80, 0xff] as const;
/** Socket-like piece sizes: one TCP segment's payload, and a large read. */
const SEGMENT_BYTES = 1460;
const LARGE_READ_BYTES = 65536;
/** Mutations stacked on one input, at most. */
const MAX_STACKED = 6;

type Mutator = (buf: Buffer, rng: Rng, seed: Seed, ctx: MutationContext) => Buffer;

function flipBits(buf: Buffer, rng: Rng): Buffer {
  if (buf.length === 0) return buf;
  const out = Buffer.from(buf);
  for (let n = rng.range(1, 8); n > 0; n--) {
    const bit = rng.below(out.length * 8);
    out[bit >> 3] = (out[bit >> 3] as number) ^ (0x80 >> (bit & 7));
  }
  return out;
}

function setBoundary(buf: Buffer, rng: Rng): Buffer {
  if (buf.length === 0) return buf;
  const out = Buffer.from(buf);
  for (let n = rng.range(1, 4); n > 0; n--) out[rng.below(out.length)] = rng.pick(BOUNDARY_BYTES);
  return out;
}

function randomize(buf: Buffer, rng: Rng): Buffer {
  if (buf.length === 0) return buf;
  const out = Buffer.from(buf);
  for (let n = rng.range(1, 4); n > 0; n--) {
    const at = rng.below(out.length);
    // Half the time a small step from the old value (a counter off by a few), else anything.
    out[at] = rng.chance(0.5) ? ((out[at] as number) + rng.range(-16, 16)) & 0xff : rng.u32() & 0xff;
  }
  return out;
}

function truncate(buf: Buffer, rng: Rng): Buffer {
  if (buf.length === 0) return buf;
  // Near the end as often as anywhere: a cut inside the last field is the classic miss.
  const keep = rng.chance(0.5) ? rng.below(buf.length) : Math.max(0, buf.length - 1 - rng.small(32));
  return buf.subarray(0, keep);
}

function extend(buf: Buffer, rng: Rng): Buffer {
  if (buf.length > 0 && rng.chance(0.5)) {
    const from = rng.below(buf.length);
    return Buffer.concat([buf, buf.subarray(from, from + 1 + rng.small(1024))]);
  }
  return Buffer.concat([buf, rng.bytes(1 + rng.small(256))]);
}

/** Values that break length arithmetic: the ends of the range, and the truth plus or minus one. */
function lyingValue(rng: Rng, width: number, truth: number): number {
  const max = 2 ** (8 * width) - 1;
  const half = 2 ** (8 * width - 1);
  const values = [0, 1, max, max - 1, half, half - 1, truth + 1, truth - 1, truth * 2, rng.u32()];
  const v = rng.pick(values);
  return ((v % (max + 1)) + max + 1) % (max + 1);
}

function lieLength(buf: Buffer, rng: Rng, seed: Seed): Buffer {
  const hinted = seed.lengths?.filter((f) => f.offset + f.width <= buf.length) ?? [];
  let field: LengthField;
  if (hinted.length > 0 && rng.chance(0.8)) field = rng.pick(hinted);
  else {
    const width = rng.pick([1, 2, 3, 4] as const);
    if (buf.length < width) return buf;
    field = { offset: rng.below(buf.length - width + 1), width, littleEndian: rng.chance(0.2) };
  }
  const out = Buffer.from(buf);
  const read = field.littleEndian ? out.readUIntLE.bind(out) : out.readUIntBE.bind(out);
  const value = lyingValue(rng, field.width, read(field.offset, field.width));
  if (field.littleEndian) out.writeUIntLE(value, field.offset, field.width);
  else out.writeUIntBE(value, field.offset, field.width);
  return out;
}

function dictionary(buf: Buffer, rng: Rng, _seed: Seed, ctx: MutationContext): Buffer {
  if (ctx.dictionary.length === 0) return setBoundary(buf, rng);
  const token = rng.pick(ctx.dictionary);
  const at = rng.below(buf.length + 1);
  if (rng.chance(0.5)) return Buffer.concat([buf.subarray(0, at), token, buf.subarray(at)]);
  const out = Buffer.from(buf);
  token.copy(out, Math.min(at, Math.max(0, out.length - token.length)));
  return out;
}

function splice(buf: Buffer, rng: Rng, _seed: Seed, ctx: MutationContext): Buffer {
  const other = rng.pick(ctx.seeds).bytes;
  return Buffer.concat([buf.subarray(0, rng.below(buf.length + 1)), other.subarray(rng.below(other.length + 1))]);
}

function insertRange(buf: Buffer, rng: Rng, _seed: Seed, ctx: MutationContext): Buffer {
  const source = rng.chance(0.5) ? buf : rng.pick(ctx.seeds).bytes;
  const from = rng.below(source.length + 1);
  const piece = source.subarray(from, from + 1 + rng.small(256));
  const at = rng.below(buf.length + 1);
  const times = rng.chance(0.8) ? 1 : rng.range(2, 8);
  const parts = [buf.subarray(0, at)];
  for (let i = 0; i < times; i++) parts.push(piece);
  parts.push(buf.subarray(at));
  return Buffer.concat(parts);
}

function deleteRange(buf: Buffer, rng: Rng): Buffer {
  if (buf.length === 0) return buf;
  const at = rng.below(buf.length);
  return Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1 + rng.small(64))]);
}

/** Each mutator with its weight. */
const MUTATORS: readonly (readonly [Mutator, number])[] = [
  [flipBits, 6],
  [setBoundary, 4],
  [randomize, 3],
  [truncate, 3],
  [extend, 2],
  [lieLength, 4],
  [dictionary, 3],
  [splice, 2],
  [insertRange, 2],
  [deleteRange, 2],
];
const TOTAL_WEIGHT = MUTATORS.reduce((sum, [, w]) => sum + w, 0);

function pickMutator(rng: Rng): Mutator {
  let r = rng.below(TOTAL_WEIGHT);
  for (const [mutator, weight] of MUTATORS) {
    if (r < weight) return mutator;
    r -= weight;
  }
  return flipBits;
}

/** A seed with one to a few mutations stacked on it, cut to `ctx.maxBytes`. */
export function mutate(seed: Seed, rng: Rng, ctx: MutationContext): Buffer {
  let buf = seed.bytes;
  for (let n = 1 + rng.small(MAX_STACKED - 1); n > 0; n--) buf = pickMutator(rng)(buf, rng, seed, ctx);
  if (buf.length > ctx.maxBytes) buf = buf.subarray(0, ctx.maxBytes);
  // Mutators may hand back a view of the seed: the parser gets bytes of its own.
  return buf === seed.bytes || buf.buffer === seed.bytes.buffer ? Buffer.from(buf) : buf;
}

function randomPieces(length: number, rng: Rng, maxPiece: number): number[] {
  const pieces: number[] = [];
  for (let left = length; left > 0;) {
    const n = Math.min(left, 1 + rng.below(maxPiece));
    pieces.push(n);
    left -= n;
  }
  return pieces;
}

/** Cuts at (or a byte or two around) each header start, so every header straddles pieces. */
function boundaryPieces(length: number, rng: Rng, boundaries: readonly number[]): number[] {
  const cuts = boundaries.map((b) => b + rng.range(-2, 2)).filter((c) => c > 0 && c < length);
  cuts.sort((a, b) => a - b);
  const pieces: number[] = [];
  let from = 0;
  for (const cut of cuts) {
    if (cut > from) pieces.push(cut - from);
    from = Math.max(from, cut);
  }
  if (length > from) pieces.push(length - from);
  return pieces;
}

/** How a push parser gets `length` bytes: whole, byte by byte, in segments, or cut at headers. */
export function pieceSizes(length: number, rng: Rng, boundaries: readonly number[] = []): number[] {
  if (length === 0) return [];
  const r = rng.below(100);
  if (r < 25) return [length];
  // Byte by byte is the harshest split and the slowest: for small inputs only.
  if (r < 28) return length <= 4096 ? new Array<number>(length).fill(1) : randomPieces(length, rng, 4);
  if (r < 45) return randomPieces(length, rng, 16);
  if (r < 75) return randomPieces(length, rng, SEGMENT_BYTES);
  if (r < 85 || boundaries.length === 0) return randomPieces(length, rng, LARGE_READ_BYTES);
  return boundaryPieces(length, rng, boundaries);
}
