import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';
import { FlvReader, readFlv, type FlvHeader, type FlvReaderLimits, type FlvTag } from './flv-reader.js';
import { Amf0EcmaArray } from '../media/amf0.js';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { piecesOf, randomBytes, randomPieces, seededRandom, splits } from '../../test/support/split.js';
import { testEncode } from '../../test/support/media.js';

/** A tag as the test builds it: the bytes are written by hand here, independent of flv-writer.ts. */
interface RawTag {
  typeByte: number;
  timestampMs: number;
  streamId: number;
  data: Buffer;
  /** Written after the body; undefined = 11 + data.length; null = none (file ends). */
  previousTagSize?: number | null;
}

interface RawFile {
  bytes: Buffer;
  /** Offset of each tag header. */
  offsets: number[];
  /** Offset just after the header, padding and PreviousTagSize0. */
  bodyStart: number;
}

function rawFile(tags: RawTag[], opts: { flags?: number; padding?: Buffer; previousTagSize0?: number } = {}): RawFile {
  const padding = opts.padding ?? Buffer.alloc(0);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(9);
  header.write('FLV', 0, 'latin1');
  header[3] = 1;
  header[4] = opts.flags ?? 0x05;
  header.writeUInt32BE(9 + padding.length, 5);
  const pts0 = Buffer.alloc(4);
  pts0.writeUInt32BE(opts.previousTagSize0 ?? 0, 0);
  parts.push(header, padding, pts0);
  let pos = 9 + padding.length + 4;
  const bodyStart = pos;
  const offsets: number[] = [];
  for (const t of tags) {
    offsets.push(pos);
    const h = Buffer.alloc(11);
    h[0] = t.typeByte;
    h.writeUIntBE(t.data.length, 1, 3);
    h.writeUIntBE(t.timestampMs % 0x1000000, 4, 3);
    h[7] = Math.floor(t.timestampMs / 0x1000000);
    h.writeUIntBE(t.streamId, 8, 3);
    parts.push(h, t.data);
    pos += 11 + t.data.length;
    if (t.previousTagSize !== null) {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(t.previousTagSize ?? 11 + t.data.length, 0);
      parts.push(p);
      pos += 4;
    }
  }
  return { bytes: Buffer.concat(parts), offsets, bodyStart };
}

/** A mixed synthetic file: metadata, small and large audio/video tags, an empty tag, extended timestamps, odd PreviousTagSizes. */
function syntheticTags(): RawTag[] {
  const meta = encodeAmf0('onMetaData', new Amf0EcmaArray({ width: 640, height: 360, framerate: 30 }));
  return [
    { typeByte: 18, timestampMs: 0, streamId: 0, data: meta },
    { typeByte: 9, timestampMs: 0, streamId: 0, data: Buffer.from('1700000000014d401effe1', 'hex') },
    { typeByte: 8, timestampMs: 0, streamId: 0, data: Buffer.from('af001210', 'hex') },
    { typeByte: 9, timestampMs: 33, streamId: 0, data: randomBytes(5000, 1) },
    { typeByte: 8, timestampMs: 46, streamId: 0, data: randomBytes(371, 2), previousTagSize: 0 },
    { typeByte: 9, timestampMs: 66, streamId: 0, data: randomBytes(70_000, 3), previousTagSize: 0xffffffff },
    { typeByte: 8, timestampMs: 70, streamId: 0, data: Buffer.alloc(0) },
    { typeByte: 0x29, timestampMs: 0x1000000, streamId: 0, data: randomBytes(20, 4) }, // filter bit
    { typeByte: 0xc9, timestampMs: 0xfffffffe, streamId: 0x123456, data: randomBytes(1460, 5), previousTagSize: 12345 },
    { typeByte: 9, timestampMs: 0x12345678, streamId: 0, data: randomBytes(1, 6) },
  ];
}

interface Parsed {
  header: FlvHeader | null;
  tags: FlvTag[];
}

function parsePieces(pieces: Buffer[], limits?: Partial<FlvReaderLimits>, views = false): Parsed {
  const out: Parsed = { header: null, tags: [] };
  const reader = new FlvReader({
    limits,
    views,
    onHeader: (h) => {
      expect(out.tags).toHaveLength(0);
      out.header = h;
    },
    onTag: (t) => {
      expect(out.header).not.toBeNull();
      out.tags.push(t);
    },
  });
  for (const p of pieces) reader.push(p);
  reader.end();
  expect(reader.bytesRead).toBe(pieces.reduce((n, p) => n + p.length, 0));
  return out;
}

function summary(p: Parsed): unknown {
  return {
    header: p.header === null ? null : { ...p.header, headerPadding: p.header.headerPadding.toString('hex') },
    tags: p.tags.map((t) => ({ ...t, data: t.data.toString('hex') })),
  };
}

function errorOf(fn: () => void): MediaFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MediaFormatError);
    return err as MediaFormatError;
  }
  throw new Error('expected a MediaFormatError');
}

describe('FlvReader', () => {
  const raw = syntheticTags();
  const file = rawFile(raw);

  it('reads header and tags with every field as found', () => {
    const { header, tags } = readFlv(file.bytes);
    expect(header).toEqual({
      version: 1,
      hasAudio: true,
      hasVideo: true,
      dataOffset: 9,
      flagsByte: 5,
      headerPadding: Buffer.alloc(0),
      previousTagSize0: 0,
    });
    expect(tags).toHaveLength(raw.length);
    tags.forEach((t, i) => {
      const r = raw[i] as RawTag;
      expect(t.tagType).toBe(r.typeByte & 0x1f);
      expect(t.filtered).toBe((r.typeByte & 0x20) !== 0);
      expect(t.reserved).toBe(r.typeByte >> 6);
      expect(t.timestampMs).toBe(r.timestampMs);
      expect(t.streamId).toBe(r.streamId);
      expect(t.data.equals(r.data)).toBe(true);
      expect(t.offset).toBe(file.offsets[i]);
      expect(t.previousTagSize).toBe(r.previousTagSize ?? 11 + r.data.length);
    });
    expect(tags[7]?.tagType).toBe(9);
    expect(tags[7]?.filtered).toBe(true);
    expect(tags[8]?.reserved).toBe(3);
    expect(tags[8]?.timestampMs).toBe(0xfffffffe);
  });

  it('gives the same header and tags whatever the piece sizes', () => {
    const expected = summary(parsePieces([file.bytes]));
    for (const split of splits(file.bytes)) {
      expect(summary(parsePieces(split.pieces)), split.name).toEqual(expected);
    }
  });

  it('hands out tag bodies it owns (not views of the input)', () => {
    const input = Buffer.from(file.bytes);
    const { tags } = readFlv(input);
    input.fill(0);
    tags.forEach((t, i) => expect(t.data.equals((raw[i] as RawTag).data)).toBe(true));
    const big = tags[5] as FlvTag;
    expect(big.data.buffer).not.toBe(input.buffer);
    expect(big.data.byteLength).toBe(70_000);
  });

  it('with views, gives the same tags whatever the piece sizes', () => {
    const expected = summary(parsePieces([file.bytes]));
    for (const split of splits(file.bytes)) {
      expect(summary(parsePieces(split.pieces, undefined, true)), split.name).toEqual(expected);
    }
  });

  it('with views, hands out a body inside one piece as a view and copies one that straddles pieces', () => {
    const input = Buffer.from(file.bytes);
    const big = raw[5] as RawTag;
    const bodyStart = (file.offsets[5] as number) + 11;
    const cut = bodyStart + 1000; // inside the 70 000-byte body of tag 5
    const { tags } = parsePieces([input.subarray(0, cut), input.subarray(cut)], undefined, true);
    const first = tags[0] as FlvTag;
    expect(first.data.buffer).toBe(input.buffer);
    expect(first.data.byteOffset).toBe(input.byteOffset + (file.offsets[0] as number) + 11);
    const straddling = tags[5] as FlvTag;
    expect(straddling.data.buffer).not.toBe(input.buffer);
    expect(straddling.data.equals(big.data)).toBe(true);
    expect((tags[7] as FlvTag).data.buffer).toBe(input.buffer);
  });

  it('emits a tag only once its PreviousTagSize is complete', () => {
    const seen: FlvTag[] = [];
    const reader = new FlvReader({ onTag: (t) => seen.push(t) });
    const firstEnd = (file.offsets[1] as number) - 1;
    reader.push(file.bytes.subarray(0, firstEnd));
    expect(seen).toHaveLength(0);
    reader.push(file.bytes.subarray(firstEnd, firstEnd + 1));
    expect(seen).toHaveLength(1);
  });

  it('skips but keeps the bytes between the header and DataOffset, and PreviousTagSize0', () => {
    const padded = rawFile(raw.slice(0, 3), {
      padding: Buffer.from('deadbeef00', 'hex'),
      previousTagSize0: 7,
      flags: 0xfd,
    });
    for (const split of splits(padded.bytes)) {
      const { header, tags } = parsePieces(split.pieces);
      expect(header?.dataOffset).toBe(14);
      expect(header?.headerPadding.toString('hex')).toBe('deadbeef00');
      expect(header?.previousTagSize0).toBe(7);
      expect(header?.flagsByte).toBe(0xfd);
      expect(header?.hasAudio).toBe(true);
      expect(header?.hasVideo).toBe(true);
      expect(tags).toHaveLength(3);
      expect(tags[0]?.offset).toBe(padded.bodyStart);
    }
  });

  it('reports hasAudio/hasVideo from the flags', () => {
    expect(readFlv(rawFile([], { flags: 0x01 }).bytes).header).toMatchObject({ hasAudio: false, hasVideo: true });
    expect(readFlv(rawFile([], { flags: 0x04 }).bytes).header).toMatchObject({ hasAudio: true, hasVideo: false });
  });

  it('accepts a file cut after a whole tag body, reporting previousTagSize -1', () => {
    const cut = rawFile([...raw.slice(0, 3), { ...(raw[3] as RawTag), previousTagSize: null }]);
    for (const split of splits(cut.bytes)) {
      const { tags } = parsePieces(split.pieces);
      expect(tags).toHaveLength(4);
      expect(tags[3]?.previousTagSize).toBe(-1);
      expect(tags[3]?.data.equals((raw[3] as RawTag).data)).toBe(true);
    }
  });

  it('accepts a header without tags, and one without PreviousTagSize0', () => {
    expect(readFlv(file.bytes.subarray(0, 13))).toMatchObject({ header: { previousTagSize0: 0 }, tags: [] });
    expect(readFlv(file.bytes.subarray(0, 9))).toMatchObject({ header: { previousTagSize0: -1 }, tags: [] });
  });

  describe('truncation', () => {
    // Every cut point of the small tags, and random cut points of the whole file.
    const smallRaw = raw.filter((t) => t.data.length < 2000);
    const small = rawFile(smallRaw);
    // Legal ends: after the header (with or without PreviousTagSize0), after a tag (with or without its PreviousTagSize).
    const legalCuts = (f: RawFile, tags: RawTag[]): Map<number, number> => {
      const legal = new Map<number, number>(); // cut point -> tags expected
      legal.set(9, 0);
      legal.set(13, 0);
      tags.forEach((t, i) => {
        const end = (f.offsets[i] as number) + 11 + t.data.length;
        legal.set(end, i + 1);
        legal.set(end + 4, i + 1);
      });
      return legal;
    };
    const legal = legalCuts(file, raw);

    it('throws FLV_TRUNCATED at end() for every other cut point, and nothing else', () => {
      const smallLegal = legalCuts(small, smallRaw);
      let truncated = 0;
      for (let cut = 0; cut <= small.bytes.length; cut++) {
        const tags: FlvTag[] = [];
        const reader = new FlvReader({ onTag: (t) => tags.push(t) });
        reader.push(small.bytes.subarray(0, cut));
        const expectedTags = smallLegal.get(cut);
        if (expectedTags !== undefined) {
          reader.end();
          expect(tags, `cut at ${cut}`).toHaveLength(expectedTags);
        } else {
          const err = errorOf(() => reader.end());
          expect(err.code, `cut at ${cut}`).toBe(MediaFormatErrorCode.FLV_TRUNCATED);
          truncated++;
        }
      }
      expect(truncated).toBe(small.bytes.length + 1 - smallLegal.size);
    });

    it('behaves the same for cut files fed in 1-byte and random pieces', () => {
      const rnd = seededRandom(99);
      for (let n = 0; n < 200; n++) {
        const cut = Math.floor(rnd() * (file.bytes.length + 1));
        const bytes = file.bytes.subarray(0, cut);
        const pieceSets =
          cut < 4000 ? [piecesOf(bytes, 1), randomPieces(bytes, n, 50)] : [randomPieces(bytes, n, 3000)];
        for (const pieces of pieceSets) {
          const reader = new FlvReader({ onTag: () => {} });
          for (const p of pieces) reader.push(p);
          if (legal.has(cut)) reader.end();
          else expect(errorOf(() => reader.end()).code).toBe(MediaFormatErrorCode.FLV_TRUNCATED);
        }
      }
    });

    it('treats an empty input as truncated', () => {
      expect(errorOf(() => readFlv(Buffer.alloc(0))).code).toBe(MediaFormatErrorCode.FLV_TRUNCATED);
    });
  });

  describe('bad input', () => {
    it('rejects a bad signature, as soon as a wrong byte arrives', () => {
      const bad = Buffer.from(file.bytes);
      bad[1] = 0x4d; // 'FMV'
      expect(errorOf(() => readFlv(bad)).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      const reader = new FlvReader({ onTag: () => {} });
      reader.push(Buffer.from('F'));
      expect(errorOf(() => reader.push(Buffer.from('X'))).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      expect(errorOf(() => readFlv(Buffer.from('GIF89a'))).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      // A short non-FLV input is a header error, not a truncation.
      const short = new FlvReader({ onTag: () => {} });
      expect(errorOf(() => short.push(Buffer.from('<h')))).toMatchObject({ code: MediaFormatErrorCode.FLV_HEADER });
    });

    it('rejects a bad version and DataOffset', () => {
      const v0 = Buffer.from(file.bytes);
      v0[3] = 0;
      expect(errorOf(() => readFlv(v0)).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      const v9 = Buffer.from(file.bytes);
      v9[3] = 9;
      expect(errorOf(() => readFlv(v9)).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      const small = Buffer.from(file.bytes);
      small.writeUInt32BE(8, 5);
      expect(errorOf(() => readFlv(small)).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      const huge = Buffer.from(file.bytes);
      huge.writeUInt32BE(0xffffffff, 5);
      expect(errorOf(() => readFlv(huge)).code).toBe(MediaFormatErrorCode.FLV_HEADER);
      expect(errorOf(() => readFlv(huge.subarray(0, 9))).code).toBe(MediaFormatErrorCode.FLV_HEADER);
    });

    it('enforces maxTagBytes as soon as the tag header is in', () => {
      const tags = [{ typeByte: 9, timestampMs: 0, streamId: 0, data: randomBytes(100, 8) }];
      const ok = rawFile(tags);
      expect(readFlv(ok.bytes, { maxTagBytes: 100 }).tags).toHaveLength(1);
      const big = rawFile([{ ...(tags[0] as RawTag), data: randomBytes(101, 8) }]);
      expect(errorOf(() => readFlv(big.bytes, { maxTagBytes: 100 })).code).toBe(MediaFormatErrorCode.FLV_TAG_TOO_LARGE);
      // Only the header of the oversized tag is needed to reject it.
      const reader = new FlvReader({ onTag: () => {}, limits: { maxTagBytes: 100 } });
      reader.push(big.bytes.subarray(0, 13 + 10));
      expect(errorOf(() => reader.push(big.bytes.subarray(23, 24))).code).toBe(MediaFormatErrorCode.FLV_TAG_TOO_LARGE);
      // Dead after an error: further input is ignored, end() does not throw again.
      reader.push(big.bytes.subarray(24));
      reader.end();
    });

    it('only ever throws MediaFormatError on seeded garbage', () => {
      const header = file.bytes.subarray(0, 13);
      const codes = new Set<string>();
      for (let seed = 1; seed <= 300; seed++) {
        const garbage = randomBytes(1 + ((seed * 97) % 5000), seed);
        // Half the inputs start with a valid header so the tag layer sees the garbage.
        const input = seed % 2 === 0 ? Buffer.concat([header, garbage]) : garbage;
        const limits = seed % 3 === 0 ? { maxTagBytes: 1 } : seed % 3 === 1 ? { maxTagBytes: 4000 } : undefined;
        const reader = new FlvReader({ onTag: () => {}, limits });
        try {
          for (const p of randomPieces(input, seed, 700)) reader.push(p);
          reader.end();
        } catch (err) {
          expect(err).toBeInstanceOf(MediaFormatError);
          codes.add((err as MediaFormatError).code);
        }
      }
      expect(codes).toContain(MediaFormatErrorCode.FLV_HEADER);
      expect(codes).toContain(MediaFormatErrorCode.FLV_TRUNCATED);
      expect(codes).toContain(MediaFormatErrorCode.FLV_TAG_TOO_LARGE);
    });

    it('stays dead after a callback throws', () => {
      let calls = 0;
      const reader = new FlvReader({
        onTag: () => {
          calls++;
          throw new Error('receiver failed');
        },
      });
      expect(() => reader.push(file.bytes)).toThrow('receiver failed');
      reader.push(file.bytes);
      reader.end();
      expect(calls).toBe(1);
    });
  });

  describe('a real ffmpeg FLV', () => {
    let bytes: Buffer;
    beforeAll(async () => {
      bytes = readFileSync(await testEncode());
    });

    it('reads every tag, in 1460-byte and random pieces too', () => {
      const whole = readFlv(bytes);
      expect(whole.header).toMatchObject({
        version: 1,
        hasAudio: true,
        hasVideo: true,
        dataOffset: 9,
        previousTagSize0: 0,
      });
      expect(whole.tags.length).toBeGreaterThan(700);
      expect(whole.tags[0]?.tagType).toBe(18);
      for (const t of whole.tags) {
        expect([8, 9, 18]).toContain(t.tagType);
        expect(t.previousTagSize).toBe(11 + t.data.length);
        expect(t.streamId).toBe(0);
      }
      const last = whole.tags[whole.tags.length - 1] as FlvTag;
      expect(last.offset + 11 + last.data.length + 4).toBe(bytes.length);
      const expected = summary({ header: whole.header, tags: whole.tags });
      for (const pieces of [piecesOf(bytes, 1460), randomPieces(bytes, 5, 100_000), randomPieces(bytes, 11, 64)]) {
        expect(summary(parsePieces(pieces))).toEqual(expected);
      }
    });
  });
});
