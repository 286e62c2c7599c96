/**
 * Split-test support: every push parser must give the same output whatever the
 * piece sizes its input arrives in. `splits(bytes)` yields the same bytes whole, in
 * 1-byte pieces, in 1460-byte (one TCP segment) pieces and in seeded random pieces.
 */

/** xorshift32: small, seeded, reproducible. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

export function randomBytes(n: number, seed: number): Buffer {
  const rnd = seededRandom(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** Cut `bytes` into pieces of `size` (the last may be shorter). Each piece is a copy, as a socket would hand it over. */
export function piecesOf(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(Buffer.from(bytes.subarray(i, i + size)));
  return out;
}

/** Cut `bytes` at seeded random points, pieces of 1..maxPiece bytes. */
export function randomPieces(bytes: Buffer, seed: number, maxPiece = 4096): Buffer[] {
  const rnd = seededRandom(seed);
  const out: Buffer[] = [];
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * maxPiece);
    out.push(Buffer.from(bytes.subarray(i, i + n)));
    i += n;
  }
  return out;
}

export interface Split {
  name: string;
  pieces: Buffer[];
}

/** The standard splits: whole, 1-byte, 1460-byte, and three seeded random cuttings. */
export function splits(bytes: Buffer): Split[] {
  return [
    { name: 'whole', pieces: [Buffer.from(bytes)] },
    { name: '1-byte pieces', pieces: piecesOf(bytes, 1) },
    { name: '1460-byte pieces', pieces: piecesOf(bytes, 1460) },
    { name: 'random pieces (seed 1)', pieces: randomPieces(bytes, 1) },
    { name: 'random pieces (seed 42, <= 17 bytes)', pieces: randomPieces(bytes, 42, 17) },
    { name: 'random pieces (seed 7)', pieces: randomPieces(bytes, 7, 65536) },
  ];
}
