/**
 * AMF0 codec: Adobe "Action Message Format -- AMF 0" specification, §2 (data types,
 * §2.1 markers through §2.18 typed object) and §3.1 (the AVM+ switch to AMF3, refused).
 * RTMP command messages (type 20) and data messages (type 18) carry their bodies in it.
 *
 * Decoding is defensive: every length is checked against the bytes left before it is
 * read, so hostile input only ever produces an {@link Amf0Error}. Decoded records are
 * null-prototype objects, so keys such as "__proto__" stay plain data.
 */
import { CodedError } from './coded-error.js';

/**
 * Stable codes of AMF0 decoding and encoding errors. The RTMP layer reports them to its peers
 * and logs as its own ERR_RTMP_AMF0_* / ERR_RTMP_AMF3_UNSUPPORTED (rtmp/errors.ts); an FLV
 * file's onMetaData reports these.
 */

export const Amf0ErrorCode = {
  /** Data ended inside a value. */
  TRUNCATED: 'ERR_AMF0_TRUNCATED',
  /** A marker that is unknown, reserved, or not allowed here; or a value AMF0 cannot encode. */
  TYPE: 'ERR_AMF0_TYPE',
  /** Nesting deeper than the limit, a bad reference, or a misplaced object end. */
  STRUCTURE: 'ERR_AMF0_STRUCTURE',
  /** The avmplus marker: AMF3, not supported. */
  AMF3_UNSUPPORTED: 'ERR_AMF0_AMF3_UNSUPPORTED',
} as const;

export type Amf0ErrorCode = (typeof Amf0ErrorCode)[keyof typeof Amf0ErrorCode];

export class Amf0Error extends CodedError<Amf0ErrorCode> {
  override readonly name = 'Amf0Error';
}

/** §2.1: the one-byte type marker that starts every AMF0 value. */
const Marker = {
  /** §2.2: IEEE-754 double, big-endian (8 bytes). */
  NUMBER: 0x00,
  /** §2.3: one byte, zero is false. */
  BOOLEAN: 0x01,
  /** §2.4: u16 byte length + UTF-8. */
  STRING: 0x02,
  /** §2.5: anonymous object, key/value pairs until an empty key + object end. */
  OBJECT: 0x03,
  /** §2.6: reserved, not supported by the spec itself. */
  MOVIECLIP: 0x04,
  /** §2.7: null. */
  NULL: 0x05,
  /** §2.8: undefined. */
  UNDEFINED: 0x06,
  /** §2.9: u16 index into the table of complex values already read. */
  REFERENCE: 0x07,
  /** §2.10: associative array, u32 count hint + pairs like an object. */
  ECMA_ARRAY: 0x08,
  /** §2.11: closes an object, ECMA array or typed object (after an empty key). */
  OBJECT_END: 0x09,
  /** §2.12: dense array, u32 count + values. */
  STRICT_ARRAY: 0x0a,
  /** §2.13: double ms since epoch + s16 timezone (reserved, ignored). */
  DATE: 0x0b,
  /** §2.14: u32 byte length + UTF-8, for strings above 65535 bytes. */
  LONG_STRING: 0x0c,
  /** §2.15: a value the sender could not serialize; decodes to undefined. */
  UNSUPPORTED: 0x0d,
  /** §2.16: reserved, not supported by the spec itself. */
  RECORDSET: 0x0e,
  /** §2.17: XML text, u32 byte length + UTF-8. */
  XML_DOCUMENT: 0x0f,
  /** §2.18: u16 class name + object body. */
  TYPED_OBJECT: 0x10,
  /** §3.1: the following value is AMF3; we only speak AMF0. */
  AVMPLUS: 0x11,
} as const;

/** Nested complex values allowed by default: deep enough for any real command, shallow enough for the stack. */
const DEFAULT_MAX_DEPTH = 32;
/** Encoder nesting limit; also what turns a cyclic value into an error. */
const MAX_ENCODE_DEPTH = 32;
/** §2.4: a short string's length prefix is a u16. */
const MAX_SHORT_STRING_BYTES = 0xffff;
/** §2.2: a number is one big-endian double. */
const NUMBER_BYTES = 8;
/** §2.13: double milliseconds + s16 timezone. */
const DATE_BYTES = 10;
/** §2.5/§2.11: empty key (u16 0) + object-end marker. */
const OBJECT_END_BYTES = 3;

/** Any value AMF0 can carry. */
export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0Object
  | Amf0Value[]
  | Amf0EcmaArray
  | Amf0TypedObject
  | Amf0XmlDocument;

/** An anonymous object (§2.5). Decoded ones have a null prototype. */
export interface Amf0Object {
  [key: string]: Amf0Value;
}

/** An ECMA (associative) array (§2.10), e.g. the onMetaData body. Decoded `entries` have a null prototype. */
export class Amf0EcmaArray {
  constructor(readonly entries: Amf0Object) {}
}

/** A typed object (§2.18): an object body with a registered class name. */
export class Amf0TypedObject {
  constructor(
    readonly className: string,
    readonly properties: Amf0Object,
  ) {}
}

/** An XML document (§2.17), kept as its text. */
export class Amf0XmlDocument {
  constructor(readonly xml: string) {}
}

export interface Amf0DecodeOptions {
  /** Most complex values (object, arrays, typed object) nested in one another; default 32. */
  maxDepth?: number;
}

function nullObject(): Amf0Object {
  return Object.create(null) as Amf0Object;
}

/**
 * Cursor over one buffer: reads values one at a time. References (§2.9) resolve
 * against every complex value this reader has returned or is building, in order
 * of their start. After a throw the reader's position is unspecified.
 */
export class Amf0Reader {
  private readonly buf: Buffer;
  private readonly maxDepth: number;
  private pos = 0;
  private depth = 0;
  /** §2.9: objects, ECMA arrays, strict arrays and typed objects, in order of their start. */
  private readonly complexValues: Amf0Value[] = [];

  constructor(buf: Buffer, options?: Amf0DecodeOptions) {
    this.buf = buf;
    this.maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Read the next value. Throws {@link Amf0Error} (AMF0_* or AMF3_UNSUPPORTED) on bad or short input. */
  readValue(): Amf0Value {
    this.depth = 0;
    return this.readAny();
  }

  private readAny(): Amf0Value {
    this.need(1);
    const at = this.pos;
    const marker = this.buf[this.pos++];
    switch (marker) {
      case Marker.NUMBER: {
        this.need(NUMBER_BYTES);
        const value = this.buf.readDoubleBE(this.pos);
        this.pos += NUMBER_BYTES;
        return value;
      }
      case Marker.BOOLEAN:
        this.need(1);
        return this.buf[this.pos++] !== 0;
      case Marker.STRING:
        return this.readUtf8(this.readU16());
      case Marker.OBJECT: {
        const obj = nullObject();
        this.enter(obj, at);
        this.readProperties(obj, false);
        this.depth--;
        return obj;
      }
      case Marker.NULL:
        return null;
      case Marker.UNDEFINED:
      case Marker.UNSUPPORTED:
        return undefined;
      case Marker.REFERENCE: {
        const index = this.readU16();
        if (index >= this.complexValues.length) {
          throw structure(
            `AMF0 reference ${index} at offset ${at} but only ${this.complexValues.length} complex values precede it`,
          );
        }
        return this.complexValues[index];
      }
      case Marker.ECMA_ARRAY: {
        this.readU32(); // Count hint: encoders get it wrong, so the end marker decides.
        const array = new Amf0EcmaArray(nullObject());
        this.enter(array, at);
        this.readProperties(array.entries, true);
        this.depth--;
        return array;
      }
      case Marker.OBJECT_END:
        throw structure(`AMF0 object-end marker at offset ${at} outside an object end sequence`);
      case Marker.STRICT_ARRAY: {
        const count = this.readU32();
        // Every element takes at least its marker byte: refuse impossible counts before allocating.
        if (count > this.remaining) {
          throw truncated(
            `AMF0 strict array at offset ${at} declares ${count} elements but only ${this.remaining} bytes remain`,
          );
        }
        const array: Amf0Value[] = [];
        this.enter(array, at);
        for (let i = 0; i < count; i++) array.push(this.readAny());
        this.depth--;
        return array;
      }
      case Marker.DATE: {
        this.need(DATE_BYTES);
        const ms = this.buf.readDoubleBE(this.pos);
        this.pos += DATE_BYTES; // The s16 timezone is reserved and ignored (§2.13).
        return new Date(ms);
      }
      case Marker.LONG_STRING:
        return this.readUtf8(this.readU32());
      case Marker.XML_DOCUMENT:
        return new Amf0XmlDocument(this.readUtf8(this.readU32()));
      case Marker.TYPED_OBJECT: {
        const typed = new Amf0TypedObject(this.readUtf8(this.readU16()), nullObject());
        this.enter(typed, at);
        this.readProperties(typed.properties, false);
        this.depth--;
        return typed;
      }
      case Marker.AVMPLUS:
        throw new Amf0Error(
          Amf0ErrorCode.AMF3_UNSUPPORTED,
          `AMF3 encoding is not supported (avmplus marker 0x11 at offset ${at}); the peer should use objectEncoding 0`,
        );
      case Marker.MOVIECLIP:
      case Marker.RECORDSET:
        throw new Amf0Error(Amf0ErrorCode.TYPE, `reserved AMF0 marker 0x${hex(marker)} at offset ${at}`);
      default:
        throw new Amf0Error(Amf0ErrorCode.TYPE, `unknown AMF0 marker 0x${hex(marker ?? 0)} at offset ${at}`);
    }
  }

  /** Register a complex value for references (§2.9) and go one level deeper. */
  private enter(value: Amf0Value, at: number): void {
    if (++this.depth > this.maxDepth) {
      throw structure(`AMF0 nesting deeper than ${this.maxDepth} at offset ${at}`);
    }
    this.complexValues.push(value);
  }

  /** §2.5: key/value pairs until an empty key followed by the object-end marker. */
  private readProperties(target: Amf0Object, isEcmaArray: boolean): void {
    for (;;) {
      // Some encoders end an ECMA array (onMetaData) with the buffer instead of an end marker.
      if (isEcmaArray && this.pos === this.buf.length) return;
      const key = this.readUtf8(this.readU16());
      if (key === '') {
        this.need(1);
        if (this.buf[this.pos] === Marker.OBJECT_END) {
          this.pos++;
          return;
        }
      }
      // A non-empty key followed by OBJECT_END throws AMF0_STRUCTURE in readAny.
      target[key] = this.readAny();
    }
  }

  private need(bytes: number): void {
    if (this.buf.length - this.pos < bytes) {
      throw truncated(
        `AMF0 data ends at offset ${this.buf.length} inside a value needing ${bytes} bytes from offset ${this.pos}`,
      );
    }
  }

  private readU16(): number {
    this.need(2);
    const value = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  private readU32(): number {
    this.need(4);
    const value = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  private readUtf8(byteLength: number): string {
    if (byteLength === 0) return '';
    this.need(byteLength);
    const start = this.pos;
    this.pos += byteLength;
    return this.buf.toString('utf8', start, this.pos);
  }
}

/** Decode every value in the buffer (a command message body, an onMetaData body). */
export function decodeAmf0(buf: Buffer, options?: Amf0DecodeOptions): Amf0Value[] {
  const reader = new Amf0Reader(buf, options);
  const values: Amf0Value[] = [];
  while (reader.remaining > 0) values.push(reader.readValue());
  return values;
}

/**
 * Encode values back to back into one freshly allocated Buffer. Strings above 65535
 * UTF-8 bytes become long strings; plain objects use their own enumerable string keys.
 * Throws AMF0_STRUCTURE for nesting deeper than 32 (including cycles) or a key above
 * 65535 bytes, and AMF0_TYPE for a JS value AMF0 cannot carry (function, symbol, bigint).
 */
export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const encoder = new Encoder();
  let size = 0;
  for (const value of values) size += encoder.measure(value, 0);
  encoder.buf = Buffer.allocUnsafe(size);
  for (const value of values) encoder.write(value);
  return encoder.buf;
}

/**
 * Two passes over the same values: `measure` sizes them (and validates depth and key
 * lengths), `write` fills the buffer. UTF-8 byte lengths are measured once and replayed
 * in visit order.
 */
class Encoder {
  buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private readonly utf8Lengths: number[] = [];
  private nextLength = 0;

  measure(value: Amf0Value, depth: number): number {
    switch (typeof value) {
      case 'number':
        return 1 + NUMBER_BYTES;
      case 'boolean':
        return 2;
      case 'string': {
        const n = this.measureUtf8(value);
        return 1 + (n <= MAX_SHORT_STRING_BYTES ? 2 : 4) + n;
      }
      case 'undefined':
        return 1;
      case 'object':
        break;
      default:
        throw new Amf0Error(Amf0ErrorCode.TYPE, `cannot encode a ${typeof value} as AMF0`);
    }
    if (value === null) return 1;
    if (value instanceof Date) return 1 + DATE_BYTES;
    if (value instanceof Amf0XmlDocument) return 1 + 4 + this.measureUtf8(value.xml);
    if (++depth > MAX_ENCODE_DEPTH) {
      throw structure(`AMF0 value nested deeper than ${MAX_ENCODE_DEPTH} (or cyclic)`);
    }
    if (Array.isArray(value)) {
      let size = 1 + 4;
      for (let i = 0; i < value.length; i++) size += this.measure(value[i], depth);
      return size;
    }
    if (value instanceof Amf0EcmaArray) return 1 + 4 + this.measureProperties(value.entries, depth);
    if (value instanceof Amf0TypedObject) {
      return 1 + 2 + this.measureKey(value.className) + this.measureProperties(value.properties, depth);
    }
    return 1 + this.measureProperties(value, depth);
  }

  write(value: Amf0Value): void {
    const buf = this.buf;
    switch (typeof value) {
      case 'number':
        buf[this.pos] = Marker.NUMBER;
        buf.writeDoubleBE(value, this.pos + 1);
        this.pos += 1 + NUMBER_BYTES;
        return;
      case 'boolean':
        buf[this.pos++] = Marker.BOOLEAN;
        buf[this.pos++] = value ? 1 : 0;
        return;
      case 'string': {
        const n = this.utf8Lengths[this.nextLength] ?? 0;
        if (n <= MAX_SHORT_STRING_BYTES) {
          buf[this.pos++] = Marker.STRING;
          this.writeUtf8U16(value);
        } else {
          buf[this.pos++] = Marker.LONG_STRING;
          this.writeUtf8U32(value);
        }
        return;
      }
      case 'undefined':
        buf[this.pos++] = Marker.UNDEFINED;
        return;
    }
    if (value === null) {
      buf[this.pos++] = Marker.NULL;
    } else if (value instanceof Date) {
      buf[this.pos] = Marker.DATE;
      buf.writeDoubleBE(value.getTime(), this.pos + 1);
      buf.writeInt16BE(0, this.pos + 1 + NUMBER_BYTES);
      this.pos += 1 + DATE_BYTES;
    } else if (value instanceof Amf0XmlDocument) {
      buf[this.pos++] = Marker.XML_DOCUMENT;
      this.writeUtf8U32(value.xml);
    } else if (Array.isArray(value)) {
      buf[this.pos++] = Marker.STRICT_ARRAY;
      buf.writeUInt32BE(value.length, this.pos);
      this.pos += 4;
      for (let i = 0; i < value.length; i++) this.write(value[i]);
    } else if (value instanceof Amf0EcmaArray) {
      buf[this.pos++] = Marker.ECMA_ARRAY;
      buf.writeUInt32BE(Object.keys(value.entries).length, this.pos);
      this.pos += 4;
      this.writeProperties(value.entries);
    } else if (value instanceof Amf0TypedObject) {
      buf[this.pos++] = Marker.TYPED_OBJECT;
      this.writeUtf8U16(value.className);
      this.writeProperties(value.properties);
    } else {
      buf[this.pos++] = Marker.OBJECT;
      this.writeProperties(value);
    }
  }

  private measureUtf8(text: string): number {
    const n = Buffer.byteLength(text, 'utf8');
    this.utf8Lengths.push(n);
    return n;
  }

  /** An object key or class name: u16-prefixed, so it must fit in 65535 bytes. */
  private measureKey(key: string): number {
    const n = this.measureUtf8(key);
    if (n > MAX_SHORT_STRING_BYTES) {
      throw structure(`AMF0 object key or class name of ${n} bytes exceeds ${MAX_SHORT_STRING_BYTES}`);
    }
    return n;
  }

  private measureProperties(obj: Amf0Object, depth: number): number {
    let size = OBJECT_END_BYTES;
    for (const key of Object.keys(obj)) size += 2 + this.measureKey(key) + this.measure(obj[key], depth);
    return size;
  }

  private writeProperties(obj: Amf0Object): void {
    for (const key of Object.keys(obj)) {
      this.writeUtf8U16(key);
      this.write(obj[key]);
    }
    this.buf.writeUInt16BE(0, this.pos);
    this.buf[this.pos + 2] = Marker.OBJECT_END;
    this.pos += OBJECT_END_BYTES;
  }

  private writeUtf8U16(text: string): void {
    const n = this.utf8Lengths[this.nextLength++] ?? 0;
    this.buf.writeUInt16BE(n, this.pos);
    this.pos += 2;
    this.pos += this.buf.write(text, this.pos, n, 'utf8');
  }

  private writeUtf8U32(text: string): void {
    const n = this.utf8Lengths[this.nextLength++] ?? 0;
    this.buf.writeUInt32BE(n, this.pos);
    this.pos += 4;
    this.pos += this.buf.write(text, this.pos, n, 'utf8');
  }
}

function structure(message: string): Amf0Error {
  return new Amf0Error(Amf0ErrorCode.STRUCTURE, message);
}

function truncated(message: string): Amf0Error {
  return new Amf0Error(Amf0ErrorCode.TRUNCATED, message);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
