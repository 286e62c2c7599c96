import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFlv, type FlvTag } from './flv-reader.js';
import {
  encodeFlv,
  encodeFlvHeader,
  encodeFlvTag,
  encodeFlvTags,
  FlvFileWriter,
  type FlvHeaderInit,
  type FlvTagInit,
} from './flv-writer.js';
import { randomBytes, splits } from '../../test/support/split.js';
import { FlvReader } from './flv-reader.js';
import { testEncode } from '../../test/support/media.js';

let cachedTags: FlvTagInit[] | null = null;

/** Synthetic tags (made once: the 16 MiB one is slow to fill with seeded bytes). */
function syntheticTags(): FlvTagInit[] {
  cachedTags ??= [
    { tagType: 18, timestampMs: 0, data: Buffer.from('02000a6f6e4d65746144617461050000', 'hex') },
    { tagType: 9, timestampMs: 0, data: Buffer.from('1700000000014d401e', 'hex') },
    { tagType: 8, timestampMs: 23, data: randomBytes(300, 1), previousTagSize: 0 },
    { tagType: 9, timestampMs: 0xffffff, data: randomBytes(5000, 2), previousTagSize: 1 },
    { tagType: 9, timestampMs: 0x1000000, data: randomBytes(17, 3) },
    { tagType: 8, timestampMs: 0xffffffff, data: Buffer.alloc(0), previousTagSize: 0xffffffff },
    { tagType: 9, timestampMs: 0x7f000001, data: randomBytes(2 * 1024 * 1024 + 3, 4) },
    { tagType: 9, timestampMs: 5, data: randomBytes(9, 5), filtered: true, reserved: 2, streamId: 0xabcdef },
    { tagType: 8, timestampMs: 6, data: randomBytes(0xffffff, 6), previousTagSize: 42 },
  ];
  return cachedTags;
}

function reencode(file: Buffer): Buffer {
  const { header, tags } = readFlv(file);
  return encodeFlv(header, tags);
}

describe('encodeFlvHeader', () => {
  it('writes the standard 9-byte header and PreviousTagSize0', () => {
    expect(encodeFlvHeader({ hasAudio: true, hasVideo: true }).toString('hex')).toBe('464c5601050000000900000000');
    expect(encodeFlvHeader({ hasAudio: false, hasVideo: true }).toString('hex')).toBe('464c5601010000000900000000');
    expect(encodeFlvHeader({ hasAudio: true, hasVideo: false }).toString('hex')).toBe('464c5601040000000900000000');
  });

  it('keeps reserved flag bits, padding, DataOffset and PreviousTagSize0 as given', () => {
    const h = encodeFlvHeader({
      hasAudio: false,
      hasVideo: true,
      flagsByte: 0xf4,
      headerPadding: Buffer.from('aabbcc', 'hex'),
      previousTagSize0: 3,
    });
    expect(h.toString('hex')).toBe('464c5601f10000000caabbcc00000003');
    expect(encodeFlvHeader({ hasAudio: true, hasVideo: true, dataOffset: 11 }).toString('hex')).toBe(
      '464c5601050000000b' + '0000' + '00000000',
    );
    expect(encodeFlvHeader({ hasAudio: true, hasVideo: true, previousTagSize0: -1 }).toString('hex')).toBe(
      '464c56010500000009',
    );
  });

  it('rejects inconsistent or out-of-range fields', () => {
    expect(() => encodeFlvHeader({ hasAudio: true, hasVideo: true, dataOffset: 8 })).toThrow(RangeError);
    expect(() =>
      encodeFlvHeader({ hasAudio: true, hasVideo: true, dataOffset: 12, headerPadding: Buffer.alloc(2) }),
    ).toThrow(RangeError);
    expect(() => encodeFlvHeader({ hasAudio: true, hasVideo: true, version: 256 })).toThrow(RangeError);
  });
});

describe('encodeFlvTag', () => {
  it('writes the 11-byte header, the body and the correct PreviousTagSize by default', () => {
    const tag = encodeFlvTag({ tagType: 9, timestampMs: 0x01234567, data: Buffer.from('abcd', 'hex') });
    expect(tag.toString('hex')).toBe('09' + '000002' + '234567' + '01' + '000000' + 'abcd' + '0000000d');
  });

  it('writes the filter bit, reserved bits and stream id, and omits PreviousTagSize for -1', () => {
    const tag = encodeFlvTag({
      tagType: 8,
      timestampMs: 1,
      data: Buffer.from('ff', 'hex'),
      filtered: true,
      reserved: 1,
      streamId: 0x010203,
      previousTagSize: -1,
    });
    expect(tag.toString('hex')).toBe('68' + '000001' + '000001' + '00' + '010203' + 'ff');
  });

  it('rejects out-of-range fields', () => {
    const data = Buffer.alloc(1);
    expect(() => encodeFlvTag({ tagType: 32, timestampMs: 0, data })).toThrow(RangeError);
    expect(() => encodeFlvTag({ tagType: 9, timestampMs: -1, data })).toThrow(RangeError);
    expect(() => encodeFlvTag({ tagType: 9, timestampMs: 2 ** 32, data })).toThrow(RangeError);
    expect(() => encodeFlvTag({ tagType: 9, timestampMs: 1.5, data })).toThrow(RangeError);
    expect(() => encodeFlvTag({ tagType: 9, timestampMs: 0, data, streamId: 0x1000000 })).toThrow(RangeError);
    expect(() => encodeFlvTag({ tagType: 9, timestampMs: 0, data: Buffer.alloc(0x1000000) })).toThrow(RangeError);
  });
});

describe('encodeFlvTags', () => {
  it('gives the same bytes as the tags encoded one by one, in one buffer', () => {
    const tags = syntheticTags();
    expect(encodeFlvTags(tags).equals(Buffer.concat(tags.map((t) => encodeFlvTag(t))))).toBe(true);
    expect(encodeFlvTags([]).length).toBe(0);
  });

  it('rejects a batch with one bad tag', () => {
    expect(() => encodeFlvTags([...syntheticTags(), { tagType: 9, timestampMs: -1, data: Buffer.alloc(1) }])).toThrow(
      RangeError,
    );
  });
});

describe('round trip', () => {
  it('encodeFlv -> readFlv gives back every field', () => {
    const header: FlvHeaderInit = { hasAudio: true, hasVideo: true };
    const tags = syntheticTags();
    const file = encodeFlv(header, tags);
    const expectedSize = 13 + tags.reduce((n, t) => n + 11 + t.data.length + (t.previousTagSize === -1 ? 0 : 4), 0);
    expect(file.length).toBe(expectedSize);
    const read = readFlv(file);
    expect(read.tags).toHaveLength(tags.length);
    read.tags.forEach((t, i) => {
      const w = tags[i] as FlvTagInit;
      expect(t.tagType).toBe(w.tagType);
      expect(t.timestampMs).toBe(w.timestampMs);
      expect(t.filtered).toBe(w.filtered ?? false);
      expect(t.reserved).toBe(w.reserved ?? 0);
      expect(t.streamId).toBe(w.streamId ?? 0);
      expect(t.previousTagSize).toBe(w.previousTagSize ?? 11 + w.data.length);
      expect(t.data.equals(w.data)).toBe(true);
    });
    // Timestamps above 2^24 use TimestampExtended for the upper 8 bits.
    const ext = read.tags[4] as FlvTag;
    expect(file.subarray(ext.offset + 4, ext.offset + 8).toString('hex')).toBe('00000001');
    const max = read.tags[5] as FlvTag;
    expect(file.subarray(max.offset + 4, max.offset + 8).toString('hex')).toBe('ffffffff');
  });

  it('read -> write is byte-identical for synthetic files, odd ones included', () => {
    const tags = syntheticTags();
    const variants: Array<{ name: string; header: FlvHeaderInit; tags: FlvTagInit[] }> = [
      { name: 'plain', header: { hasAudio: true, hasVideo: true }, tags },
      {
        name: 'DataOffset > 9, reserved flags, PreviousTagSize0 != 0',
        header: {
          hasAudio: true,
          hasVideo: false,
          flagsByte: 0x0c,
          headerPadding: randomBytes(23, 9),
          previousTagSize0: 99,
        },
        tags: tags.slice(0, 5),
      },
      { name: 'no tags', header: { hasAudio: false, hasVideo: false }, tags: [] },
      { name: 'no PreviousTagSize0', header: { hasAudio: true, hasVideo: true, previousTagSize0: -1 }, tags: [] },
      {
        name: 'last tag without PreviousTagSize',
        header: { hasAudio: true, hasVideo: true },
        tags: [...tags.slice(0, 3), { ...(tags[3] as FlvTagInit), previousTagSize: -1 }],
      },
    ];
    for (const v of variants) {
      const file = encodeFlv(v.header, v.tags);
      expect(reencode(file).equals(file), v.name).toBe(true);
    }
  });

  it('round-trips whatever the piece sizes the reader got', () => {
    const tags = syntheticTags().filter((t) => t.data.length < 100_000);
    const file = encodeFlv({ hasAudio: true, hasVideo: true, headerPadding: Buffer.from('01', 'hex') }, tags);
    for (const split of splits(file)) {
      const out: Buffer[] = [];
      let writer: FlvFileWriter | null = null;
      const reader = new FlvReader({
        onHeader: (h) => {
          writer = new FlvFileWriter((b) => out.push(b), h);
        },
        onTag: (t) => (writer as FlvFileWriter | null)?.writeTag(t),
      });
      for (const p of split.pieces) reader.push(p);
      reader.end();
      expect(Buffer.concat(out).equals(file), split.name).toBe(true);
    }
  });

  it('FlvFileWriter writes the same bytes as encodeFlv', () => {
    const header: FlvHeaderInit = { hasAudio: true, hasVideo: true };
    const tags = syntheticTags().slice(0, 6);
    const out: Buffer[] = [];
    const writer = new FlvFileWriter((b) => out.push(b), header);
    for (const t of tags) writer.writeTag(t);
    const file = Buffer.concat(out);
    expect(file.equals(encodeFlv(header, tags))).toBe(true);
    expect(writer.bytesWritten).toBe(file.length);
    expect(out).toHaveLength(1 + tags.length);
  });

  describe('a real ffmpeg FLV', () => {
    let bytes: Buffer;
    beforeAll(async () => {
      bytes = readFileSync(await testEncode());
    });

    it('is rewritten byte for byte', () => {
      const { header, tags } = readFlv(bytes);
      expect(tags.length).toBeGreaterThan(700);
      const again = encodeFlv(header, tags);
      expect(again.length).toBe(bytes.length);
      expect(again.equals(bytes)).toBe(true);
      // And tag by tag through the streaming writer.
      const out: Buffer[] = [];
      const writer = new FlvFileWriter((b) => out.push(b), header);
      for (const t of tags) writer.writeTag(t);
      expect(Buffer.concat(out).equals(bytes)).toBe(true);
    });
  });
});
