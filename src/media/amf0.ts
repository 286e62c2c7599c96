/**
 * AMF0 values: Adobe "Action Message Format -- AMF 0" specification, §2 (data types,
 * §2.1 markers through §2.18 typed object) and §3.1 (the AVM+ switch to AMF3, refused).
 * RTMP command messages (type 20) and data messages (type 18) carry their bodies in it.
 *
 * What both directions of the codec share: the value model, the markers and wire sizes,
 * and the errors. Decoding is amf0-reader.ts, encoding amf0-writer.ts.
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
export const Marker = {
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

/** §2.2: a number is one big-endian double. */
export const NUMBER_BYTES = 8;
/** §2.13: double milliseconds + s16 timezone. */
export const DATE_BYTES = 10;

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

/** An AMF0_STRUCTURE error: the decoder and the encoder both refuse too deep a nesting. */
export function structure(message: string): Amf0Error {
  return new Amf0Error(Amf0ErrorCode.STRUCTURE, message);
}
