/**
 * AMF0 decoding: Adobe "Action Message Format -- AMF 0" specification, §2 (data types,
 * §2.1 markers through §2.18 typed object) and §3.1 (the AVM+ switch to AMF3, refused).
 *
 * Decoding is defensive: every length is checked against the bytes left before it is
 * read, so hostile input only ever produces an {@link Amf0Error}. Decoded records are
 * null-prototype objects, so keys such as "__proto__" stay plain data.
 */
import {
  Amf0EcmaArray,
  Amf0Error,
  Amf0ErrorCode,
  Amf0TypedObject,
  Amf0XmlDocument,
  DATE_BYTES,
  Marker,
  NUMBER_BYTES,
  structure,
  type Amf0Object,
  type Amf0Value,
} from './amf0.js';

/** Nested complex values allowed by default: deep enough for any real command, shallow enough for the stack. */
const DEFAULT_MAX_DEPTH = 32;

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
      case Marker.NUMBER:
        return this.readNumber();
      case Marker.BOOLEAN:
        this.need(1);
        return this.buf[this.pos++] !== 0;
      case Marker.STRING:
        return this.readUtf8(this.readU16());
      case Marker.OBJECT:
        return this.readObject(at);
      case Marker.NULL:
        return null;
      case Marker.UNDEFINED:
      case Marker.UNSUPPORTED:
        return undefined;
      case Marker.REFERENCE:
        return this.readReference(at);
      case Marker.ECMA_ARRAY:
        return this.readEcmaArray(at);
      case Marker.OBJECT_END:
        throw structure(`AMF0 object-end marker at offset ${at} outside an object end sequence`);
      case Marker.STRICT_ARRAY:
        return this.readStrictArray(at);
      case Marker.DATE:
        return this.readDate();
      case Marker.LONG_STRING:
        return this.readUtf8(this.readU32());
      case Marker.XML_DOCUMENT:
        return new Amf0XmlDocument(this.readUtf8(this.readU32()));
      case Marker.TYPED_OBJECT:
        return this.readTypedObject(at);
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

  private readNumber(): number {
    this.need(NUMBER_BYTES);
    const value = this.buf.readDoubleBE(this.pos);
    this.pos += NUMBER_BYTES;
    return value;
  }

  private readDate(): Date {
    this.need(DATE_BYTES);
    const ms = this.buf.readDoubleBE(this.pos);
    this.pos += DATE_BYTES; // The s16 timezone is reserved and ignored (§2.13).
    return new Date(ms);
  }

  /** The body of an object (§2.5) whose marker starts at `at`. */
  private readObject(at: number): Amf0Object {
    const obj = nullObject();
    this.enter(obj, at);
    this.readProperties(obj, false);
    this.depth--;
    return obj;
  }

  private readReference(at: number): Amf0Value {
    const index = this.readU16();
    if (index >= this.complexValues.length) {
      throw structure(
        `AMF0 reference ${index} at offset ${at} but only ${this.complexValues.length} complex values precede it`,
      );
    }
    return this.complexValues[index];
  }

  private readEcmaArray(at: number): Amf0EcmaArray {
    this.readU32(); // Count hint: encoders get it wrong, so the end marker decides.
    const array = new Amf0EcmaArray(nullObject());
    this.enter(array, at);
    this.readProperties(array.entries, true);
    this.depth--;
    return array;
  }

  private readStrictArray(at: number): Amf0Value[] {
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

  private readTypedObject(at: number): Amf0TypedObject {
    const typed = new Amf0TypedObject(this.readUtf8(this.readU16()), nullObject());
    this.enter(typed, at);
    this.readProperties(typed.properties, false);
    this.depth--;
    return typed;
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

function truncated(message: string): Amf0Error {
  return new Amf0Error(Amf0ErrorCode.TRUNCATED, message);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
