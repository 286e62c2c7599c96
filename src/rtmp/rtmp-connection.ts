/**
 * One RTMP connection, either end: the socket's events, the §5.2 handshake, the §5.3 chunk
 * stream both ways, §5.4 protocol control and §7.1.7 user control, message dispatch
 * (§7.1 message types, §7.1.6 aggregates split into their sub-messages) and the send path.
 * The server session and the client own one each and keep only their command logic
 * (§7.2), which reaches them through {@link RtmpConnectionHandler}.
 *
 * Input is processed inside one try: a protocol violation, or a throw from a handler, is
 * reported once through `onFault` and never escapes a socket event.
 */
import { sessionTicker } from '../media/session-ticker.js';
import type { Socket } from 'node:net';
import type { Amf0Value } from '../media/amf0.js';
import { decodeAmf0 } from '../media/amf0-reader.js';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { kindOf, tagTypeOf, type TagKind } from '../media/tag-kinds.js';
import { splitAggregate } from './aggregate.js';
import { ChunkParser, type ChunkParserLimits } from './chunk-parser.js';
import { ChunkWriter, type OutgoingMessage } from './chunk-writer.js';
import { CONTROL_CSID, setChunkSizeMessage, type UserControl } from './control-messages.js';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { ClientHandshake, ServerHandshake, type HandshakeMode } from './handshake.js';
import { ChunkStreamId, MessageType, type RtmpMessage } from './message-types.js';
import { ProtocolControl } from './protocol-control.js';

/** After an orderly end of our side, a peer that never closes its side is cut off after this. */
const CLOSE_GRACE_MS = 2000;
/** Reused send buffer, in bytes: holds a 720p keyframe at a few Mbit/s; larger messages get their own. */
const SEND_BUFFER_BYTES = 128 * 1024;

/** One AMF0 command message (§7.1.1), its name and transaction id already checked. */
export interface RtmpCommand {
  readonly name: string;
  /** 0 when the command carries none. */
  readonly transactionId: number;
  /** All values of the message: name, transaction id, command object, arguments. */
  readonly values: Amf0Value[];
  /** The message stream it came on. */
  readonly streamId: number;
}

/** What the owner of a connection is told. Throws from the input callbacks end the connection through onFault. */
export interface RtmpConnectionHandler {
  onHandshakeDone?(mode: HandshakeMode): void;
  onCommand(command: RtmpCommand): void;
  /** Audio, video or AMF0 data, straight or out of an aggregate; the payload is the receiver's. */
  onMedia(kind: TagKind, streamId: number, timestampMs: number, payload: Buffer): void;
  /** User control events other than ping requests (answered here). */
  onUserControl?(uc: UserControl): void;
  /** The peer ended its side: `error` says it did so mid-handshake or mid-message. */
  onPeerEnd(error: RtmpError | null): void;
  onSocketError(err: NodeJS.ErrnoException): void;
  onSocketClose(): void;
  /** The input broke the protocol (an RtmpError, AMF0 error...) or a handler threw. */
  onFault(err: unknown): void;
  /** The socket's send buffer drained. */
  onDrain?(): void;
}

export interface ConnectionCounters {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
}

export interface RtmpConnectionOptions {
  readonly socket: Socket;
  readonly side: 'client' | 'server';
  readonly parserLimits: ChunkParserLimits;
  /** How the peer is named in error messages ("peer", or a redacted URL). */
  readonly peerLabel: string;
  readonly handler: RtmpConnectionHandler;
  /** Updated in place, so an owner can expose them as its own. */
  readonly counters?: ConnectionCounters;
  /** The handshake must be done within this, in ms (onFault HANDSHAKE_TIMEOUT); none when absent. */
  readonly handshakeTimeoutMs?: number;
}

export class RtmpConnection {
  readonly counters: ConnectionCounters;
  /** Date.now() of the last byte in or out. */
  lastActivityMs = Date.now();
  /** The socket closed (resolves once, whatever ended it). */
  readonly socketClosed: Promise<void>;
  private readonly socket: Socket;
  private readonly side: 'client' | 'server';
  private readonly peerLabel: string;
  private readonly handler: RtmpConnectionHandler;
  private readonly handshake: ClientHandshake | ServerHandshake;
  private readonly parser: ChunkParser;
  private readonly writer = new ChunkWriter();
  private readonly control: ProtocolControl;
  /**
   * Reused for each message written while the socket has nothing queued. Per-message
   * buffers made V8 collect the whole heap several times a second on a busy relay (their
   * bytes count toward its collection trigger).
   */
  private readonly sendBuffer = Buffer.allocUnsafe(SEND_BUFFER_BYTES);
  /** Removes the handshake deadline from the shared ticker (null: none pending). */
  private handshakeCheck: (() => void) | null = null;
  /** Writes of this event-loop turn are corked; the uncork is queued. */
  private corked = false;
  private readonly uncorkTurn = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
  private graceTimer: NodeJS.Timeout | null = null;
  /** Input is ignored and no handler is called once the owner shut the connection down. */
  private shut = false;
  /** counters.bytesOut when the handshake was done: a peer counts what it acknowledges from there. */
  private bytesOutAtHandshake = 0;

  constructor(options: RtmpConnectionOptions) {
    this.socket = options.socket;
    this.side = options.side;
    this.peerLabel = options.peerLabel;
    this.handler = options.handler;
    this.counters = options.counters ?? { bytesIn: 0, bytesOut: 0, messagesIn: 0 };
    const send = (bytes: Buffer): void => void this.writeRaw(bytes);
    this.handshake = options.side === 'client' ? new ClientHandshake({ send }) : new ServerHandshake({ send });
    this.parser = new ChunkParser({ limits: options.parserLimits, onMessage: (m) => this.onMessage(m) });
    this.control = new ProtocolControl(
      (csid, message) => this.send(csid, message),
      (uc) => this.handler.onUserControl?.(uc),
    );
    this.socketClosed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.shut) this.handler.onSocketError(err);
    });
    this.socket.on('close', () => this.onClose());
    this.socket.on('drain', () => {
      if (!this.shut) this.handler.onDrain?.();
    });
    const timeoutMs = options.handshakeTimeoutMs;
    if (timeoutMs !== undefined) {
      const deadlineMs = Date.now() + timeoutMs;
      this.handshakeCheck = sessionTicker.add((nowMs) => {
        if (nowMs < deadlineMs) return;
        this.clearHandshakeDeadline();
        if (!this.shut)
          this.handler.onFault(
            new RtmpError(RtmpErrorCode.HANDSHAKE_TIMEOUT, `handshake not done within ${timeoutMs} ms`),
          );
      });
    }
  }

  get handshakeDone(): boolean {
    return this.handshake.done;
  }

  get handshakeMode(): HandshakeMode {
    return this.handshake.mode;
  }

  /** Bytes queued in the socket, not yet taken by the kernel (for backpressure decisions). */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /**
   * Of counters.bytesOut, how many the peer has acknowledged (§5.4.3); null until its first
   * Acknowledgement. Its 32-bit sequence number counts from the end of the handshake and wraps.
   */
  get bytesAcknowledged(): number | null {
    const sequence = this.control.peerAcknowledged;
    if (sequence === null) return null;
    const sent = this.counters.bytesOut - this.bytesOutAtHandshake;
    const behind = (sent - sequence) % 2 ** 32;
    const unacked = behind < 0 ? behind + 2 ** 32 : behind;
    // Over 2 GiB "behind" means the peer counted more than we sent (it counts the handshake too).
    return this.bytesOutAtHandshake + (unacked > 2 ** 31 ? sent : sent - unacked);
  }

  /** Client side: the TCP (or TLS) connection is up; send C0+C1. */
  start(): void {
    if (this.shut) return;
    this.socket.setNoDelay(true);
    try {
      if (this.handshake instanceof ClientHandshake) this.handshake.start();
    } catch (err) {
      this.handler.onFault(err);
    }
  }

  /** Write one message; returns socket.write's value (false: wait for drain). */
  send(csid: number, message: OutgoingMessage): boolean {
    // Nothing queued means every earlier write reached the kernel (or TLS) whole, so the send
    // buffer is free again: most messages then need no allocation of their own.
    const into = this.socket.writableLength === 0 ? this.sendBuffer : undefined;
    return this.writeRaw(this.writer.write(csid, message, into));
  }

  /** Audio on csid 4, video on 6, data on 5 (§5.3.1.1 leaves the choice to us; FFmpeg's ids). */
  sendMedia(kind: TagKind, streamId: number, timestampMs: number, payload: Buffer): boolean {
    const csid = kind === 'audio' ? ChunkStreamId.AUDIO : kind === 'video' ? ChunkStreamId.VIDEO : ChunkStreamId.DATA;
    return this.send(csid, { typeId: tagTypeOf(kind), streamId, timestampMs, payload });
  }

  sendCommand(streamId: number, ...values: Amf0Value[]): void {
    this.send(ChunkStreamId.COMMAND, {
      typeId: MessageType.COMMAND_AMF0,
      streamId,
      timestampMs: 0,
      payload: encodeAmf0(...values),
    });
  }

  /** §5.4.1: announce our chunk size and use it from the next message on. */
  setOutChunkSize(size: number): void {
    this.send(CONTROL_CSID, setChunkSizeMessage(size));
    this.writer.chunkSize = size;
  }

  /** End our side in order; input is still read (answers to what we sent last). */
  endOutput(): void {
    this.clearHandshakeDeadline();
    if (!this.socket.writableEnded) this.socket.end();
    this.armGrace();
  }

  /** Stop reading and calling the handler; end the socket in order, or at once. Idempotent. */
  shutdown(how: 'end' | 'destroy'): void {
    this.shut = true;
    this.clearHandshakeDeadline();
    if (how === 'destroy') {
      this.socket.destroy();
      return;
    }
    if (!this.socket.writableEnded) this.socket.end();
    this.armGrace();
  }

  private armGrace(): void {
    if (this.graceTimer !== null || this.socket.destroyed) return;
    this.graceTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  private clearHandshakeDeadline(): void {
    this.handshakeCheck?.();
    this.handshakeCheck = null;
  }

  private writeRaw(bytes: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    this.counters.bytesOut += bytes.length;
    this.lastActivityMs = Date.now();
    // Everything written for this socket in one event-loop turn goes to the kernel in one
    // writev at the turn's end: one system call per turn, not per message. A turn's burst
    // beyond the high-water mark goes now: corked bytes must not read as backpressure
    // (writableLength, write's false) to a sender that drops frames on it.
    if (this.corked && this.socket.writableLength + bytes.length > this.socket.writableHighWaterMark) {
      this.socket.uncork();
      this.socket.cork();
    } else if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncorkTurn);
    }
    return this.socket.write(bytes);
  }

  private onData(data: Buffer): void {
    if (this.shut) return;
    this.lastActivityMs = Date.now();
    this.counters.bytesIn += data.length;
    try {
      if (!this.handshake.done) {
        const rest = this.handshake.push(data);
        if (rest === undefined) return;
        this.clearHandshakeDeadline();
        this.bytesOutAtHandshake = this.counters.bytesOut;
        this.handler.onHandshakeDone?.(this.handshake.mode);
        if (rest.length > 0 && !this.shut) this.parser.push(rest);
      } else {
        this.parser.push(data);
      }
      if (!this.shut) this.control.acknowledge(this.parser.bytesReceived);
    } catch (err) {
      if (!this.shut) this.handler.onFault(err);
    }
  }

  private onEnd(): void {
    if (this.shut) return;
    let error: RtmpError | null = null;
    if (!this.handshake.done) {
      error = new RtmpError(
        RtmpErrorCode.HANDSHAKE_TRUNCATED,
        `${this.peerLabel} closed the connection after ${this.counters.bytesIn} handshake bytes`,
      );
    } else if (this.parser.midMessage) {
      error = new RtmpError(
        RtmpErrorCode.TRUNCATED,
        `${this.peerLabel} closed the connection in the middle of a message`,
      );
    }
    this.handler.onPeerEnd(error);
  }

  private onClose(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.clearHandshakeDeadline();
    if (!this.shut) this.handler.onSocketClose();
  }

  private onMessage(message: RtmpMessage): void {
    if (this.shut) return;
    this.counters.messagesIn++;
    if (this.control.handle(message)) return;
    switch (message.typeId) {
      case MessageType.SHARED_OBJECT_AMF0:
        return; // nothing for us to do
      case MessageType.COMMAND_AMF0:
        return this.onCommandMessage(message);
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
        return this.handler.onMedia(kindOf(message.typeId), message.streamId, message.timestampMs, message.payload);
      case MessageType.AGGREGATE:
        return this.onAggregate(message);
      case MessageType.COMMAND_AMF3:
      case MessageType.DATA_AMF3:
      case MessageType.SHARED_OBJECT_AMF3:
        throw new RtmpError(
          RtmpErrorCode.AMF3_UNSUPPORTED,
          `AMF3-encoded message (type ${message.typeId}) is not supported; only objectEncoding 0 (AMF0) is`,
        );
      default:
        throw new RtmpError(RtmpErrorCode.MESSAGE_TYPE, `unexpected message type ${message.typeId}`);
    }
  }

  private onCommandMessage(message: RtmpMessage): void {
    const values = decodeAmf0(message.payload);
    const [name, txn] = values;
    if (typeof name !== 'string' || name.length === 0) {
      throw new RtmpError(
        RtmpErrorCode.COMMAND_INVALID,
        `command message from the ${this.side === 'client' ? 'server' : 'client'} without a command name`,
      );
    }
    const transactionId = typeof txn === 'number' ? txn : 0;
    this.handler.onCommand({ name, transactionId, values, streamId: message.streamId });
  }

  /** §7.1.6: only the audio, video and data sub-messages of an aggregate are delivered. */
  private onAggregate(message: RtmpMessage): void {
    for (const sub of splitAggregate(message)) {
      if (this.shut) return;
      if (
        sub.typeId === MessageType.AUDIO ||
        sub.typeId === MessageType.VIDEO ||
        sub.typeId === MessageType.DATA_AMF0
      ) {
        this.handler.onMedia(kindOf(sub.typeId), sub.streamId, sub.timestampMs, sub.payload);
      }
    }
  }
}
