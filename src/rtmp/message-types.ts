/**
 * RTMP message type ids (RTMP 1.0 §5.4 protocol control, §6.2 user control, §7.1 messages).
 */
export const MessageType = {
  /** §5.4.1: the sender's maximum chunk payload size from now on. */
  SET_CHUNK_SIZE: 1,
  /** §5.4.2: discard the partially received message on a chunk stream. */
  ABORT: 2,
  /** §5.4.3: bytes received so far, sent each time a window is filled. */
  ACKNOWLEDGEMENT: 3,
  /** §6.2 / §7.1.7: stream begin/EOF, ping request/response and friends. */
  USER_CONTROL: 4,
  /** §5.4.4: how many bytes the peer may send before it expects an acknowledgement. */
  WINDOW_ACK_SIZE: 5,
  /** §5.4.5: limit the peer's output bandwidth (its window ack size). */
  SET_PEER_BANDWIDTH: 6,
  /** §7.1.5: one audio frame as an FLV audio tag body. */
  AUDIO: 8,
  /** §7.1.5: one video frame as an FLV video tag body. */
  VIDEO: 9,
  /** §7.1.2: data message, AMF3 encoded (refused). */
  DATA_AMF3: 15,
  /** §7.1.3: shared object message, AMF3 encoded (refused). */
  SHARED_OBJECT_AMF3: 16,
  /** §7.1.1: command message, AMF3 encoded (refused). */
  COMMAND_AMF3: 17,
  /** §7.1.2: data message (@setDataFrame/onMetaData), AMF0 encoded. */
  DATA_AMF0: 18,
  /** §7.1.3: shared object message, AMF0 encoded (ignored). */
  SHARED_OBJECT_AMF0: 19,
  /** §7.1.1: command message (connect, publish, ...), AMF0 encoded. */
  COMMAND_AMF0: 20,
  /** §7.1.6: several FLV-tag-framed sub-messages in one message. */
  AGGREGATE: 22,
} as const;

const KNOWN_TYPES = new Set<number>(Object.values(MessageType));

/** Whether RTMP defines this message type id; anything else is a protocol violation. */
export function isKnownMessageType(typeId: number): boolean {
  return KNOWN_TYPES.has(typeId);
}

/** User control event types (RTMP 1.0 §7.1.7). */
export const UserControlEvent = {
  /** The server is ready to send (play) or receive (publish) on a stream. */
  STREAM_BEGIN: 0,
  /** Playback of a stream has ended. */
  STREAM_EOF: 1,
  /** No more data on the stream. */
  STREAM_DRY: 2,
  /** The client's buffer length in milliseconds. */
  SET_BUFFER_LENGTH: 3,
  /** The stream is recorded. */
  STREAM_IS_RECORDED: 4,
  /** The peer checks that we are alive; answer with PING_RESPONSE and the same timestamp. */
  PING_REQUEST: 6,
  /** Answer to a ping request. */
  PING_RESPONSE: 7,
} as const;

/** Chunk stream ids both our server and client send on, as FFmpeg does (§5.4: control uses 2). */
export const ChunkStreamId = {
  CONTROL: 2,
  COMMAND: 3,
  AUDIO: 4,
  DATA: 5,
  VIDEO: 6,
} as const;

/** Our outgoing chunk size: 4096 keeps per-chunk header overhead under 0.3%. */
export const DEFAULT_OUT_CHUNK_SIZE = 4096;
/** Window we announce, and assume for the peer until it announces one (the common 2.5 MB). */
export const DEFAULT_WINDOW_ACK_BYTES = 2_500_000;

/** One reassembled RTMP message. */
export interface RtmpMessage {
  /** Chunk stream it arrived on (2..65599). */
  readonly csid: number;
  readonly typeId: number;
  /** Message stream id (0 = the NetConnection). */
  readonly streamId: number;
  /** Absolute message timestamp in milliseconds, modulo 2^32 (deltas are added modulo 2^32). */
  readonly timestampMs: number;
  /** The message body. It belongs to the receiver and is never changed afterwards. */
  readonly payload: Buffer;
}
