/**
 * FLV script data tag bodies: Adobe FLV 10.1 §E.4.4 SCRIPTDATA (§E.4.4.1: a name string and
 * its value, in AMF0), and the onMetaData fields. RTMP data message bodies are exactly these.
 */
import { Amf0EcmaArray, Amf0TypedObject, Amf0XmlDocument, type Amf0Object, type Amf0Value } from '../media/amf0.js';
import { decodeAmf0 } from '../media/amf0-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

export interface ScriptTagBody {
  /** The leading string, e.g. 'onMetaData'. */
  name: string;
  /** The value after the name (usually an Amf0EcmaArray or object for onMetaData); undefined when absent. */
  value: Amf0Value;
  /** Every value after the name (`value` is the first). */
  values: Amf0Value[];
}

/**
 * Parse a script data tag body (§E.4.4.1 SCRIPTDATA: a name string and its value, in AMF0).
 * AMF0 errors propagate as Amf0Error from the codec; a body that does not start with a
 * string throws MediaFormatError FLV_TAG.
 */
export function parseScriptTagBody(body: Buffer): ScriptTagBody {
  const all = decodeAmf0(body);
  const name = all[0];
  if (typeof name !== 'string') {
    throw new MediaFormatError(MediaFormatErrorCode.FLV_TAG, 'script data tag does not start with a name string');
  }
  const values = all.slice(1);
  return { name, value: values[0], values };
}

function isRecord(value: Amf0Value): value is Amf0Object {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Amf0XmlDocument) &&
    !(value instanceof Amf0EcmaArray) &&
    !(value instanceof Amf0TypedObject)
  );
}

/**
 * Flatten onMetaData's value (ECMA array, object or typed object) to a null-prototype
 * record of its primitive fields (width, height, framerate, videocodecid, audiocodecid,
 * audiosamplerate, stereo, videodatarate, encoder, ...). Nested values, null, undefined
 * and dates are left out; any other value gives an empty record.
 */
export function metadataFields(value: Amf0Value): Record<string, number | string | boolean> {
  const out = Object.create(null) as Record<string, number | string | boolean>;
  let entries: Amf0Object | null = null;
  if (value instanceof Amf0EcmaArray) entries = value.entries;
  else if (value instanceof Amf0TypedObject) entries = value.properties;
  else if (isRecord(value)) entries = value;
  if (entries === null) return out;
  for (const key of Object.keys(entries)) {
    const v = entries[key];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[key] = v;
  }
  return out;
}
