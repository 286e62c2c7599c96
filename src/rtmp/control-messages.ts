/**
 * Protocol control (RTMP 1.0 §5.4) and user control (§7.1.7) message bodies: build and parse.
 * Control messages travel on chunk stream 2, message stream 0 (§5.4).
 */
import { RtmpError, RtmpErrorCode } from './errors.js';
import { MessageType, UserControlEvent } from './message-types.js';
import type { OutgoingMessage } from './chunk-writer.js';

/** §5.4: protocol control messages use chunk stream id 2. */
export const CONTROL_CSID = 2;

/** §5.4.5: Set Peer Bandwidth limit types. */
export const PeerBandwidthLimit = { HARD: 0, SOFT: 1, DYNAMIC: 2 } as const;

function control(typeId: number, payload: Buffer): OutgoingMessage {
  return { typeId, streamId: 0, timestampMs: 0, payload };
}

function uint32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

export function setChunkSizeMessage(chunkSize: number): OutgoingMessage {
  return control(MessageType.SET_CHUNK_SIZE, uint32(chunkSize));
}

export function acknowledgementMessage(sequenceNumber: number): OutgoingMessage {
  return control(MessageType.ACKNOWLEDGEMENT, uint32(sequenceNumber));
}

export function windowAckSizeMessage(windowBytes: number): OutgoingMessage {
  return control(MessageType.WINDOW_ACK_SIZE, uint32(windowBytes));
}

export function setPeerBandwidthMessage(windowBytes: number, limitType: number): OutgoingMessage {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(windowBytes >>> 0, 0);
  b[4] = limitType;
  return control(MessageType.SET_PEER_BANDWIDTH, b);
}

/** A user control event whose data is one 32-bit value (stream id or timestamp). */
export function userControlMessage(event: number, value: number): OutgoingMessage {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt16BE(event, 0);
  b.writeUInt32BE(value >>> 0, 2);
  return control(MessageType.USER_CONTROL, b);
}

/** §7.1.7 Set Buffer Length (event 3): the stream id, then the client's buffer in ms. */
export function setBufferLengthMessage(streamId: number, bufferMs: number): OutgoingMessage {
  const payload = Buffer.alloc(10);
  payload.writeUInt16BE(UserControlEvent.SET_BUFFER_LENGTH, 0);
  payload.writeUInt32BE(streamId, 2);
  payload.writeUInt32BE(bufferMs, 6);
  return { typeId: MessageType.USER_CONTROL, streamId: 0, timestampMs: 0, payload };
}

export function streamBeginMessage(streamId: number): OutgoingMessage {
  return userControlMessage(UserControlEvent.STREAM_BEGIN, streamId);
}

export function streamEofMessage(streamId: number): OutgoingMessage {
  return userControlMessage(UserControlEvent.STREAM_EOF, streamId);
}

export interface UserControl {
  event: number;
  /** First 32-bit field: stream id, or timestamp for ping events. */
  value: number;
  /** Set Buffer Length only: buffer length in milliseconds. */
  bufferLengthMs?: number;
}

export function parseUserControl(payload: Buffer): UserControl {
  if (payload.length < 2) {
    throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, `user control message of ${payload.length} bytes`);
  }
  const event = payload.readUInt16BE(0);
  // Unknown events are ignored by the caller; known ones need their 32-bit field.
  const value = payload.length >= 6 ? payload.readUInt32BE(2) : 0;
  if (event <= UserControlEvent.PING_RESPONSE && payload.length < 6) {
    throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, `user control event ${event} of ${payload.length} bytes`);
  }
  if (event === UserControlEvent.SET_BUFFER_LENGTH) {
    if (payload.length < 10) {
      throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, `Set Buffer Length of ${payload.length} bytes, expected 10`);
    }
    return { event, value, bufferLengthMs: payload.readUInt32BE(6) };
  }
  return { event, value };
}

/** Reads the 32-bit body of Acknowledgement / Window Ack Size / Set Peer Bandwidth. */
export function parseUint32Body(payload: Buffer, what: string): number {
  if (payload.length < 4) {
    throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, `${what} of ${payload.length} bytes, expected 4`);
  }
  return payload.readUInt32BE(0);
}
