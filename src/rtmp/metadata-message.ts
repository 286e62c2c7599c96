/**
 * A publisher's data message (RTMP 1.0 §7.1.2, AMF0): onMetaData, with or without the
 * `@setDataFrame` wrapper that publishers put before it.
 */
import { Amf0Reader } from '../media/amf0-reader.js';

const SET_DATA_FRAME = '@setDataFrame';

/**
 * The message from "onMetaData" on (the original bytes, unwrapped), or null for any other
 * data message (|RtmpSampleAccess and friends). The whole message is validated first: a
 * damaged one throws an AMF0 error.
 */
export function metadataBody(payload: Buffer): Buffer | null {
  const reader = new Amf0Reader(payload);
  let name = reader.readValue();
  let bodyStart = 0;
  if (name === SET_DATA_FRAME) {
    bodyStart = reader.offset;
    name = reader.readValue();
  }
  if (name !== 'onMetaData') return null;
  while (reader.remaining > 0) reader.readValue();
  return payload.subarray(bodyStart);
}
