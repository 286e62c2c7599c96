/**
 * AMF0 encoding: Adobe "Action Message Format -- AMF 0" specification, §2 (data types): the
 * markers of amf0.ts, strings as §2.4 or §2.14 long strings by their UTF-8 length.
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

/** Encoder nesting limit; also what turns a cyclic value into an error. */
const MAX_ENCODE_DEPTH = 32;
/** §2.4: a short string's length prefix is a u16. */
const MAX_SHORT_STRING_BYTES = 0xffff;
/** §2.5/§2.11: empty key (u16 0) + object-end marker. */
const OBJECT_END_BYTES = 3;

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
