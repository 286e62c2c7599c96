import { describe, it, expect } from 'vitest';
import {
  Amf0EcmaArray,
  Amf0Error,
  Amf0ErrorCode,
  Amf0TypedObject,
  Amf0XmlDocument,
  type Amf0Object,
  type Amf0Value,
} from './amf0.js';
import { Amf0Reader, decodeAmf0 } from './amf0-reader.js';
import { encodeAmf0 } from './amf0-writer.js';

// Byte builders independent of the encoder, so decode tests do not test the codec against itself.
const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');
const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
const u8 = (...bytes: number[]): Buffer => Buffer.from(bytes);
const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const f64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b;
};
/** u16 length + UTF-8: an object key, or a short string's payload. */
const key = (s: string): Buffer => cat(u16(Buffer.byteLength(s)), Buffer.from(s, 'utf8'));
const str = (s: string): Buffer => cat(u8(0x02), key(s));
const num = (n: number): Buffer => cat(u8(0x00), f64(n));
const bool = (b: boolean): Buffer => u8(0x01, b ? 1 : 0);
const END = u8(0x00, 0x00, 0x09);
const prop = (k: string, v: Buffer): Buffer => cat(key(k), v);
const obj = (...props: Buffer[]): Buffer => cat(u8(0x03), ...props, END);
const ecma = (countHint: number, ...props: Buffer[]): Buffer => cat(u8(0x08), u32(countHint), ...props, END);

/** The Amf0Error code `fn` throws, or undefined if it returns. Any other exception fails the test. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof Amf0Error) return err.code;
    throw err;
  }
  return undefined;
}

function roundTrip(...values: Amf0Value[]): Amf0Value[] {
  return decodeAmf0(encodeAmf0(...values));
}

/** xorshift32: deterministic pseudo-random numbers for the fuzz tests. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('AMF0 round trip', () => {
  it('scalars, including NaN, -0 and infinities', () => {
    const numbers = [0, -0, 1, -1.5, 3.141592653589793, NaN, Infinity, -Infinity, Number.MAX_VALUE, 5e-324, 2 ** 53];
    const decoded = roundTrip(...numbers);
    expect(decoded).toHaveLength(numbers.length);
    numbers.forEach((n, i) => expect(Object.is(decoded[i], n)).toBe(true));
    expect(roundTrip(true, false, null, undefined, '')).toEqual([true, false, null, undefined, '']);
  });

  it('encodes scalars to the spec bytes', () => {
    expect(encodeAmf0(1).toString('hex')).toBe('003ff0000000000000');
    expect(encodeAmf0(-0).toString('hex')).toBe('008000000000000000');
    expect(encodeAmf0(true, false).toString('hex')).toBe('01010100');
    expect(encodeAmf0(null, undefined).toString('hex')).toBe('0506');
    expect(encodeAmf0('').toString('hex')).toBe('020000');
    expect(encodeAmf0('é').toString('hex')).toBe('020002c3a9');
    expect(encodeAmf0([]).toString('hex')).toBe('0a00000000');
    expect(encodeAmf0({}).toString('hex')).toBe('03000009');
    expect(encodeAmf0(new Date(0)).toString('hex')).toBe('0b00000000000000000000');
  });

  it('unicode strings', () => {
    const s = 'héllo 世界 🎉 \u0000 end';
    expect(roundTrip(s)).toEqual([s]);
    expect(roundTrip({ ключ: 'значение', '🔑': '✓' })).toEqual([{ ключ: 'значение', '🔑': '✓' }]);
  });

  it('long strings switch marker above 65535 UTF-8 bytes', () => {
    const max = 'a'.repeat(65535);
    expect(encodeAmf0(max)[0]).toBe(0x02);
    expect(roundTrip(max)).toEqual([max]);

    const long = 'x'.repeat(70000);
    const encoded = encodeAmf0(long);
    expect(encoded[0]).toBe(0x0c);
    expect(encoded.length).toBe(1 + 4 + 70000);
    expect(encoded.readUInt32BE(1)).toBe(70000);
    expect(decodeAmf0(encoded)).toEqual([long]);

    // 40000 characters but 80000 bytes: the byte length decides.
    const wide = 'é'.repeat(40000);
    expect(encodeAmf0(wide)[0]).toBe(0x0c);
    expect(roundTrip(wide)).toEqual([wide]);

    // A long string inside an object value.
    expect(roundTrip({ big: long })).toEqual([{ big: long }]);
  });

  it('decodes a short long-string (0x0C)', () => {
    expect(decodeAmf0(cat(u8(0x0c), u32(3), Buffer.from('abc')))).toEqual(['abc']);
  });

  it('dates (timezone ignored)', () => {
    const d = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    const [decoded] = roundTrip(d);
    expect(decoded).toBeInstanceOf(Date);
    expect((decoded as Date).getTime()).toBe(d.getTime());
    // A nonzero timezone field is ignored.
    const withTz = cat(u8(0x0b), f64(d.getTime()), u16(0xff88));
    expect((decodeAmf0(withTz)[0] as Date).getTime()).toBe(d.getTime());
  });

  it('nested objects, ECMA arrays, strict arrays, typed objects and XML', () => {
    const value: Amf0Value = {
      level: 'status',
      code: 'NetStream.Publish.Start',
      nested: { deeper: { list: [1, 'two', null, undefined, [true, { x: -0.5 }]] } },
      meta: new Amf0EcmaArray({ width: 1920, height: 1080, stereo: true }),
      typed: new Amf0TypedObject('flex.messaging.io.ArrayCollection', { source: [1, 2, 3] }),
      xml: new Amf0XmlDocument('<a b="c">é</a>'),
      when: new Date(1700000000000),
      '': 'empty key is a property, not the end marker',
    };
    const [decoded] = roundTrip(value, 'tail');
    expect(decoded).toEqual(value);
    const d = decoded as Amf0Object;
    expect(d['meta']).toBeInstanceOf(Amf0EcmaArray);
    expect(d['typed']).toBeInstanceOf(Amf0TypedObject);
    expect((d['typed'] as Amf0TypedObject).className).toBe('flex.messaging.io.ArrayCollection');
    expect(d['xml']).toBeInstanceOf(Amf0XmlDocument);
    expect((d['xml'] as Amf0XmlDocument).xml).toBe('<a b="c">é</a>');
    // toEqual ignores undefined entries; check the slot really holds undefined.
    const list = ((d['nested'] as Amf0Object)['deeper'] as Amf0Object)['list'] as Amf0Value[];
    expect(list).toHaveLength(5);
    expect(list[3]).toBeUndefined();
  });

  it('ECMA array carries its entry count; undefined object values survive', () => {
    const encoded = encodeAmf0(new Amf0EcmaArray({ a: 1, b: undefined, c: 'x' }));
    expect(encoded[0]).toBe(0x08);
    expect(encoded.readUInt32BE(1)).toBe(3);
    const [decoded] = decodeAmf0(encoded);
    expect(Object.keys((decoded as Amf0EcmaArray).entries)).toEqual(['a', 'b', 'c']);
  });

  it('decodes the unsupported marker (0x0D) to undefined', () => {
    expect(decodeAmf0(u8(0x0d, 0x05))).toEqual([undefined, null]);
  });
});

describe('RTMP messages', () => {
  it('encodes a connect command to the exact bytes', () => {
    const encoded = encodeAmf0('connect', 1, {
      app: 'live',
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)',
      tcUrl: 'rtmp://localhost/live',
    });
    const expected = hex(`
      02 0007 636f6e6e656374
      00 3ff0000000000000
      03
        0003 617070 02 0004 6c697665
        0004 74797065 02 000a 6e6f6e70726976617465
        0008 666c617368566572 02 001f 464d4c452f332e30 20 28636f6d70617469626c653b 20 464d53632f312e30 29
        0005 746355726c 02 0015 72746d703a2f2f 6c6f63616c686f7374 2f6c697665
      000009
    `);
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));
  });

  it('decodes an ffmpeg play connect with capabilities', () => {
    const body = cat(
      str('connect'),
      num(1),
      obj(
        prop('app', str('live')),
        prop('flashVer', str('LNX 9,0,124,2')),
        prop('tcUrl', str('rtmp://127.0.0.1:1935/live')),
        prop('fpad', bool(false)),
        prop('capabilities', num(15)),
        prop('audioCodecs', num(4071)),
        prop('videoCodecs', num(252)),
        prop('videoFunction', num(1)),
      ),
    );
    expect(decodeAmf0(body)).toEqual([
      'connect',
      1,
      {
        app: 'live',
        flashVer: 'LNX 9,0,124,2',
        tcUrl: 'rtmp://127.0.0.1:1935/live',
        fpad: false,
        capabilities: 15,
        audioCodecs: 4071,
        videoCodecs: 252,
        videoFunction: 1,
      },
    ]);
  });

  it('decodes an OBS publish connect followed by releaseStream/createStream style args', () => {
    const body = cat(
      str('connect'),
      num(1),
      obj(
        prop('app', str('live')),
        prop('type', str('nonprivate')),
        prop('flashVer', str('FMLE/3.0 (compatible; FMSc/1.0)')),
        prop('swfUrl', str('rtmp://example.com/live')),
        prop('tcUrl', str('rtmp://example.com/live')),
      ),
      u8(0x05),
      str('streamkey'),
    );
    const [name, tid, cmd, nul, key_] = decodeAmf0(body);
    expect(name).toBe('connect');
    expect(tid).toBe(1);
    expect(cmd).toEqual({
      app: 'live',
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)',
      swfUrl: 'rtmp://example.com/live',
      tcUrl: 'rtmp://example.com/live',
    });
    expect(nul).toBeNull();
    expect(key_).toBe('streamkey');
  });

  const metadataProps = [
    prop('duration', num(0)),
    prop('width', num(1280)),
    prop('height', num(720)),
    prop('videodatarate', num(2500)),
    prop('framerate', num(30)),
    prop('videocodecid', num(7)),
    prop('audiodatarate', num(128)),
    prop('audiosamplerate', num(44100)),
    prop('audiosamplesize', num(16)),
    prop('stereo', bool(true)),
    prop('audiocodecid', num(10)),
    prop('encoder', str('Lavf60.16.100')),
    prop('filesize', num(0)),
  ];
  const metadataEntries = {
    duration: 0,
    width: 1280,
    height: 720,
    videodatarate: 2500,
    framerate: 30,
    videocodecid: 7,
    audiodatarate: 128,
    audiosamplerate: 44100,
    audiosamplesize: 16,
    stereo: true,
    audiocodecid: 10,
    encoder: 'Lavf60.16.100',
    filesize: 0,
  };

  it('decodes an @setDataFrame onMetaData ECMA array', () => {
    const body = cat(str('@setDataFrame'), str('onMetaData'), ecma(13, ...metadataProps));
    const [setDataFrame, onMetaData, meta] = decodeAmf0(body);
    expect(setDataFrame).toBe('@setDataFrame');
    expect(onMetaData).toBe('onMetaData');
    expect(meta).toBeInstanceOf(Amf0EcmaArray);
    expect((meta as Amf0EcmaArray).entries).toEqual(metadataEntries);
    expect(Object.keys((meta as Amf0EcmaArray).entries)).toEqual(Object.keys(metadataEntries));
    // Encoding it back gives the same bytes.
    expect(encodeAmf0('@setDataFrame', 'onMetaData', new Amf0EcmaArray(metadataEntries)).equals(body)).toBe(true);
  });

  it('ignores the ECMA array count hint', () => {
    for (const hint of [0, 1, 100, 0xffffffff]) {
      const [meta] = decodeAmf0(ecma(hint, ...metadataProps));
      expect((meta as Amf0EcmaArray).entries).toEqual(metadataEntries);
    }
  });

  it('accepts an ECMA array without the trailing end marker when the buffer ends after the last pair', () => {
    const body = cat(str('onMetaData'), u8(0x08), u32(13), ...metadataProps);
    const [name, meta] = decodeAmf0(body);
    expect(name).toBe('onMetaData');
    expect((meta as Amf0EcmaArray).entries).toEqual(metadataEntries);
    // Only at the end of the buffer: a nested unterminated ECMA array is truncated data.
    const nested = cat(u8(0x03), key('m'), u8(0x08), u32(1), prop('a', num(1)));
    expect(codeOf(() => decodeAmf0(nested))).toBe(Amf0ErrorCode.TRUNCATED);
  });
});

describe('AMF0 references (0x07)', () => {
  it('resolves to the same JS object, indexed in order of start', () => {
    // [ {a:1}, ref(1) ]: the strict array is complex value 0, the object is 1.
    const body = cat(u8(0x0a), u32(2), obj(prop('a', num(1))), u8(0x07), u16(1));
    const [arr] = decodeAmf0(body) as [Amf0Value[]];
    expect(arr[0]).toEqual({ a: 1 });
    expect(arr[1]).toBe(arr[0]);
  });

  it('can refer to an earlier top-level value and to a value still being read', () => {
    const body = cat(
      obj(prop('name', str('first'))), // 0
      ecma(1, prop('self', cat(u8(0x07), u16(1)))), // 1, refers to itself
      cat(u8(0x10), key('T'), END), // 2, a typed object
      u8(0x07),
      u16(0),
      u8(0x07),
      u16(2),
    );
    const [first, meta, typed, ref0, ref2] = decodeAmf0(body);
    expect(ref0).toBe(first);
    expect((meta as Amf0EcmaArray).entries['self']).toBe(meta);
    expect(typed).toBeInstanceOf(Amf0TypedObject);
    expect(ref2).toBe(typed);
  });

  it('rejects an index out of range', () => {
    expect(codeOf(() => decodeAmf0(cat(u8(0x07), u16(0))))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => decodeAmf0(cat(obj(), u8(0x07), u16(1))))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => decodeAmf0(cat(obj(), u8(0x07), u16(0))))).toBeUndefined();
  });
});

describe('AMF0 errors', () => {
  it('AMF0_TRUNCATED when data ends inside a value', () => {
    for (const bytes of [
      '00',
      '00 3ff0',
      '01',
      '02',
      '02 00',
      '02 0005 6162',
      '03',
      '03 0001',
      '03 0001 61',
      '03 0001 61 05',
      '03 0000',
      '08 0000',
      '0a 00000001',
      '0b 3ff0000000000000 00',
      '0c 00000005 61',
      '0f 00000002 3c',
      '10 0003 4142',
      '10 0001 41',
      '07 00',
    ]) {
      expect(
        codeOf(() => decodeAmf0(hex(bytes))),
        bytes,
      ).toBe(Amf0ErrorCode.TRUNCATED);
    }
  });

  it('AMF0_TRUNCATED for a huge strict-array count, before allocating', () => {
    expect(codeOf(() => decodeAmf0(cat(u8(0x0a), u32(0xffffffff), u8(0x05))))).toBe(Amf0ErrorCode.TRUNCATED);
    expect(codeOf(() => decodeAmf0(cat(u8(0x0a), u32(3), u8(0x05, 0x05))))).toBe(Amf0ErrorCode.TRUNCATED);
    expect(decodeAmf0(cat(u8(0x0a), u32(2), u8(0x05, 0x05)))).toEqual([[null, null]]);
    // Huge string and XML lengths too.
    expect(codeOf(() => decodeAmf0(cat(u8(0x0c), u32(0xffffffff), u8(0x61))))).toBe(Amf0ErrorCode.TRUNCATED);
    expect(codeOf(() => decodeAmf0(cat(u8(0x0f), u32(0xfffffff0))))).toBe(Amf0ErrorCode.TRUNCATED);
  });

  it('AMF0_TYPE for reserved and unknown markers', () => {
    for (const marker of [0x04, 0x0e, 0x12, 0x13, 0x7f, 0xff]) {
      expect(
        codeOf(() => decodeAmf0(u8(marker))),
        `0x${marker.toString(16)}`,
      ).toBe(Amf0ErrorCode.TYPE);
      expect(codeOf(() => decodeAmf0(obj(prop('a', u8(marker)))))).toBe(Amf0ErrorCode.TYPE);
    }
  });

  it('AMF0_STRUCTURE for misplaced object-end markers', () => {
    // At top level.
    expect(codeOf(() => decodeAmf0(u8(0x09)))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => decodeAmf0(cat(str('a'), u8(0x09))))).toBe(Amf0ErrorCode.STRUCTURE);
    // Inside a strict array.
    expect(codeOf(() => decodeAmf0(cat(u8(0x0a), u32(1), u8(0x09))))).toBe(Amf0ErrorCode.STRUCTURE);
    // A non-empty key followed by the end marker.
    expect(codeOf(() => decodeAmf0(cat(u8(0x03), key('a'), u8(0x09))))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => decodeAmf0(cat(u8(0x08), u32(0), key('a'), u8(0x09))))).toBe(Amf0ErrorCode.STRUCTURE);
  });

  it('AMF3_UNSUPPORTED for the avmplus marker, telling the peer to use objectEncoding 0', () => {
    for (const body of [u8(0x11, 0x01), cat(str('connect'), num(1), obj(prop('app', cat(u8(0x11), u8(0x06)))))]) {
      let caught: unknown;
      try {
        decodeAmf0(body);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Amf0Error);
      expect((caught as Amf0Error).code).toBe(Amf0ErrorCode.AMF3_UNSUPPORTED);
      expect((caught as Amf0Error).message).toMatch(/AMF3/);
      expect((caught as Amf0Error).message).toMatch(/objectEncoding 0/);
    }
  });

  it('depth bombs throw AMF0_STRUCTURE, not a stack overflow', () => {
    const nestedObjects = cat(u8(0x03), ...Array.from({ length: 999 }, () => cat(key('a'), u8(0x03))));
    expect(codeOf(() => decodeAmf0(nestedObjects))).toBe(Amf0ErrorCode.STRUCTURE);
    const nestedArrays = cat(...Array.from({ length: 1000 }, () => cat(u8(0x0a), u32(1))), u8(0x05));
    expect(codeOf(() => decodeAmf0(nestedArrays))).toBe(Amf0ErrorCode.STRUCTURE);
    const nestedEcma = cat(...Array.from({ length: 1000 }, () => cat(u8(0x08), u32(1), key('a'))), u8(0x05));
    expect(codeOf(() => decodeAmf0(nestedEcma))).toBe(Amf0ErrorCode.STRUCTURE);
    const nestedTyped = cat(...Array.from({ length: 1000 }, () => cat(u8(0x10), key('T'), key('a'))), u8(0x05));
    expect(codeOf(() => decodeAmf0(nestedTyped))).toBe(Amf0ErrorCode.STRUCTURE);
  });

  it('honours maxDepth (default 32)', () => {
    const nest = (levels: number): Buffer =>
      cat(...Array.from({ length: levels }, () => cat(u8(0x0a), u32(1))), u8(0x05));
    expect(codeOf(() => decodeAmf0(nest(32)))).toBeUndefined();
    expect(codeOf(() => decodeAmf0(nest(33)))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => decodeAmf0(nest(2), { maxDepth: 2 }))).toBeUndefined();
    expect(codeOf(() => decodeAmf0(nest(3), { maxDepth: 2 }))).toBe(Amf0ErrorCode.STRUCTURE);
    // Depth is per value, not cumulative across values.
    expect(decodeAmf0(cat(nest(2), nest(2)), { maxDepth: 2 })).toHaveLength(2);
  });

  it('truncation at every byte offset throws AMF0_TRUNCATED or decodes fewer values', () => {
    const values: Amf0Value[] = [
      'connect',
      1,
      {
        app: 'live',
        nested: { list: [1, 'é', null, undefined, true], when: new Date(1) },
        meta: new Amf0EcmaArray({ a: 1, b: 'two' }),
        typed: new Amf0TypedObject('T', { x: 1 }),
      },
      null,
      undefined,
      false,
      new Date(1700000000000),
      [1, [2, { three: 3 }]],
      new Amf0EcmaArray({ width: 1920, height: 1080 }),
      new Amf0TypedObject('flex.Foo', { bar: 'baz' }),
      new Amf0XmlDocument('<x/>'),
      -0,
    ];
    const full = encodeAmf0(...values);
    expect(decodeAmf0(full)).toHaveLength(values.length);
    for (let cut = 0; cut < full.length; cut++) {
      let decoded: Amf0Value[] | undefined;
      try {
        decoded = decodeAmf0(full.subarray(0, cut));
      } catch (err) {
        expect(err, `cut ${cut}`).toBeInstanceOf(Amf0Error);
        expect((err as Amf0Error).code, `cut ${cut}`).toBe(Amf0ErrorCode.TRUNCATED);
      }
      if (decoded) expect(decoded.length, `cut ${cut}`).toBeLessThan(values.length);
    }
  });

  it('a truncated long string throws AMF0_TRUNCATED', () => {
    const full = encodeAmf0('y'.repeat(70000));
    for (const cut of [1, 3, 5, 6, 40000, full.length - 1]) {
      expect(codeOf(() => decodeAmf0(full.subarray(0, cut)))).toBe(Amf0ErrorCode.TRUNCATED);
    }
  });

  it('random garbage only ever returns or throws Amf0Error', () => {
    const next = xorshift(0x5eed1234);
    let failures = 0;
    for (let i = 0; i < 2000; i++) {
      const len = next() % 64;
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) {
        // Bias towards valid markers and small lengths so the decoder gets past the first byte.
        const r = next();
        buf[j] = r & 1 ? (r >>> 1) % 0x13 : (r >>> 1) & 0xff;
      }
      try {
        decodeAmf0(buf, { maxDepth: 1 + (i % 40) });
      } catch (err) {
        if (!(err instanceof Amf0Error)) failures++;
      }
    }
    expect(failures).toBe(0);
  });

  it('mutated valid messages only ever return or throw Amf0Error, and re-encode or throw Amf0Error', () => {
    const base = cat(
      str('@setDataFrame'),
      str('onMetaData'),
      encodeAmf0(new Amf0EcmaArray({ w: 1, s: 'x', o: { a: [1, 2, null] }, t: new Amf0TypedObject('C', {}) })),
    );
    const next = xorshift(42);
    let failures = 0;
    for (let i = 0; i < 2000; i++) {
      const buf = Buffer.from(base);
      const flips = 1 + (next() % 4);
      for (let k = 0; k < flips; k++) buf[next() % buf.length] = next() & 0xff;
      try {
        const values = decodeAmf0(buf.subarray(0, buf.length - (next() % 8)));
        encodeAmf0(...values); // Self references decode fine but must not encode forever.
      } catch (err) {
        if (!(err instanceof Amf0Error)) failures++;
      }
    }
    expect(failures).toBe(0);
  });
});

describe('AMF0 security and buffers', () => {
  it('stores __proto__ and constructor keys as plain data (no prototype pollution)', () => {
    const body = obj(
      prop('__proto__', obj(prop('polluted', bool(true)))),
      prop('constructor', str('x')),
      prop('hasOwnProperty', num(1)),
    );
    const [decoded] = decodeAmf0(body) as [Amf0Object];
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(decoded['__proto__']).toEqual({ polluted: true });
    expect(decoded['constructor']).toBe('x');
    expect(decoded['hasOwnProperty']).toBe(1);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');

    const inEcma = decodeAmf0(ecma(1, prop('__proto__', obj(prop('polluted', bool(true))))))[0] as Amf0EcmaArray;
    expect(Object.getPrototypeOf(inEcma.entries)).toBeNull();
    expect(Object.hasOwn(inEcma.entries, '__proto__')).toBe(true);
    const typed = decodeAmf0(cat(u8(0x10), key('T'), prop('__proto__', num(1)), END))[0] as Amf0TypedObject;
    expect(Object.getPrototypeOf(typed.properties)).toBeNull();
    expect(typed.properties['__proto__']).toBe(1);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();

    // The key survives a re-encode.
    expect(encodeAmf0(decoded).equals(body)).toBe(true);
  });

  it('decodes from a subarray view at an odd byteOffset without reading outside it', () => {
    const inner = encodeAmf0('connect', 1, { app: 'live' }, 'end');
    const backing = Buffer.alloc(inner.length + 20, 0xee);
    inner.copy(backing, 7);
    const view = backing.subarray(7, 7 + inner.length);
    expect(view.byteOffset % 2).toBe(1);
    expect(decodeAmf0(view)).toEqual(['connect', 1, { app: 'live' }, 'end']);
    // One byte short: the missing byte sits just past the view and must not be read.
    const short = backing.subarray(7, 7 + inner.length - 1);
    expect(codeOf(() => decodeAmf0(short))).toBe(Amf0ErrorCode.TRUNCATED);
    // A view over a shared ArrayBuffer (as from a socket pool).
    const shared = Buffer.from(backing.buffer, backing.byteOffset + 7, inner.length);
    expect(decodeAmf0(shared)).toEqual(['connect', 1, { app: 'live' }, 'end']);
  });

  it('Amf0Reader reads one value at a time and tracks offset/remaining', () => {
    const buf = cat(str('ab'), num(2), u8(0x05));
    const reader = new Amf0Reader(buf);
    expect(reader.offset).toBe(0);
    expect(reader.remaining).toBe(buf.length);
    expect(reader.readValue()).toBe('ab');
    expect(reader.offset).toBe(5);
    expect(reader.readValue()).toBe(2);
    expect(reader.offset).toBe(14);
    expect(reader.readValue()).toBeNull();
    expect(reader.remaining).toBe(0);
    expect(codeOf(() => reader.readValue())).toBe(Amf0ErrorCode.TRUNCATED);
  });
});

describe('AMF0 encoder limits', () => {
  it('rejects cycles and nesting deeper than 32 with AMF0_STRUCTURE', () => {
    const cyclic: Amf0Object = {};
    cyclic['self'] = cyclic;
    expect(codeOf(() => encodeAmf0(cyclic))).toBe(Amf0ErrorCode.STRUCTURE);
    const cyclicArray: Amf0Value[] = [];
    cyclicArray.push(cyclicArray);
    expect(codeOf(() => encodeAmf0(cyclicArray))).toBe(Amf0ErrorCode.STRUCTURE);
    const ecmaCycle = new Amf0EcmaArray({});
    ecmaCycle.entries['again'] = ecmaCycle;
    expect(codeOf(() => encodeAmf0(ecmaCycle))).toBe(Amf0ErrorCode.STRUCTURE);

    const nest = (levels: number): Amf0Value => {
      let v: Amf0Value = 'leaf';
      for (let i = 0; i < levels; i++) v = { v };
      return v;
    };
    expect(codeOf(() => encodeAmf0(nest(1000)))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => encodeAmf0(nest(33)))).toBe(Amf0ErrorCode.STRUCTURE);
    // What the encoder accepts, the decoder accepts with its default depth.
    expect(roundTrip(nest(32))).toEqual([nest(32)]);
  });

  it('rejects keys and class names above 65535 UTF-8 bytes with AMF0_STRUCTURE', () => {
    const longKey = 'k'.repeat(65536);
    expect(codeOf(() => encodeAmf0({ [longKey]: 1 }))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => encodeAmf0(new Amf0EcmaArray({ ['é'.repeat(32768)]: 1 })))).toBe(Amf0ErrorCode.STRUCTURE);
    expect(codeOf(() => encodeAmf0(new Amf0TypedObject(longKey, {})))).toBe(Amf0ErrorCode.STRUCTURE);
    const maxKey = 'k'.repeat(65535);
    expect(roundTrip({ [maxKey]: 1 })).toEqual([{ [maxKey]: 1 }]);
  });

  it('rejects JS values AMF0 cannot carry with AMF0_TYPE', () => {
    for (const bad of [() => 1, Symbol('s'), 1n]) {
      expect(codeOf(() => encodeAmf0({ bad } as unknown as Amf0Object))).toBe(Amf0ErrorCode.TYPE);
    }
  });

  it('encodes several values into exactly the bytes they need', () => {
    const values: Amf0Value[] = ['a', 1, { b: [true] }, new Amf0EcmaArray({}), new Amf0XmlDocument('')];
    const encoded = encodeAmf0(...values);
    const separately = Buffer.concat(values.map((v) => encodeAmf0(v)));
    expect(encoded.equals(separately)).toBe(true);
    expect(encodeAmf0().length).toBe(0);
  });
});
