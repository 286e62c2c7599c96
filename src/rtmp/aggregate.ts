/**
 * Aggregate messages (RTMP 1.0 §7.1.6): several sub-messages, each framed like an FLV tag
 * (11-byte header, body, 4-byte back pointer). The aggregate's timestamp is the first
 * sub-message's; later ones keep their offsets from it.
 */
import { RtmpError, RtmpErrorCode } from './errors.js';
import type { RtmpMessage } from './message-types.js';

/** §7.1.6: type (1), size (3), timestamp (3 + extended 1), stream id (3). */
const SUB_HEADER_BYTES = 11;
/** §7.1.6: each sub-message is followed by its back pointer. */
const BACK_POINTER_BYTES = 4;

/** The sub-messages of an aggregate, with absolute timestamps; bodies are views into its payload. */
export function splitAggregate(message: RtmpMessage): RtmpMessage[] {
  const p = message.payload;
  const out: RtmpMessage[] = [];
  let offset = 0;
  let baseMs: number | null = null;
  while (offset + SUB_HEADER_BYTES <= p.length) {
    const typeId = p[offset] as number;
    const size = p.readUIntBE(offset + 1, 3);
    const subTs = (p.readUIntBE(offset + 4, 3) | ((p[offset + 7] as number) << 24)) >>> 0;
    const end = offset + SUB_HEADER_BYTES + size;
    if (end + BACK_POINTER_BYTES > p.length) {
      throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, 'aggregate sub-message overruns its message');
    }
    baseMs ??= subTs;
    out.push({
      csid: message.csid,
      typeId,
      streamId: message.streamId,
      timestampMs: (message.timestampMs + subTs - baseMs) >>> 0,
      payload: p.subarray(offset + SUB_HEADER_BYTES, end),
    });
    offset = end + BACK_POINTER_BYTES;
  }
  return out;
}
