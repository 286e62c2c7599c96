/**
 * One RTMP connection on the server side: handshake (RTMP 1.0 §5.2), chunk stream (§5.3),
 * protocol and user control (§5.4, §7.1.7), and the NetConnection/NetStream commands
 * (§7.2) of the publish and play flows.
 *
 * Publish: connect -> _result(NetConnection.Connect.Success); releaseStream, FCPublish
 * (-> onFCPublish); createStream -> stream id; publish -> StreamBegin +
 * onStatus(NetStream.Publish.Start); @setDataFrame/onMetaData; audio/video;
 * FCUnpublish, deleteStream.
 * Play: connect; createStream; play -> StreamBegin + onStatus(Play.Reset, Play.Start),
 * then metadata, sequence headers and the GOP from the latest keyframe, then live media.
 *
 * Any protocol violation throws an RtmpError that ends this session only.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Amf0Reader, decodeAmf0, encodeAmf0, type Amf0Value } from '../media/amf0.js';
import { ChunkParser, type ChunkParserLimits } from './chunk-parser.js';
import { ChunkWriter, type OutgoingMessage } from './chunk-writer.js';
import {
  CONTROL_CSID,
  PeerBandwidthLimit,
  setChunkSizeMessage,
  setPeerBandwidthMessage,
  streamBeginMessage,
  streamEofMessage,
  windowAckSizeMessage,
} from './control-messages.js';
import { RtmpError, RtmpErrorCode, asRtmpError } from './errors.js';
import { ProtocolControl } from './protocol-control.js';
import { ServerHandshake } from './handshake.js';
import type { MediaFrame } from '../media/tag-kinds.js';
import type { PublishedStream, StreamHub, StreamPublisher, StreamSubscriber } from './stream-hub.js';
import { splitAggregate } from './aggregate.js';
import {
  ChunkStreamId,
  DEFAULT_OUT_CHUNK_SIZE,
  DEFAULT_WINDOW_ACK_BYTES,
  MessageType,
  type RtmpMessage,
} from './message-types.js';
import { normaliseApp, resolveStreamPath, type StreamPath } from './stream-path.js';

const CSID_COMMAND = ChunkStreamId.COMMAND;
const CSID_DATA = ChunkStreamId.DATA;
const CSID_AUDIO = ChunkStreamId.AUDIO;
const CSID_VIDEO = ChunkStreamId.VIDEO;
/** `@setDataFrame` wrapper that publishers put before onMetaData. */
const SET_DATA_FRAME = '@setDataFrame';

export interface SessionLimits extends ChunkParserLimits {
  /** Time allowed for the whole handshake, in ms. */
  handshakeTimeoutMs: number;
  /** A session with no bytes in or out for this long is closed, in ms. */
  idleTimeoutMs: number;
  /** Message streams one connection may create. */
  maxStreamsPerSession: number;
  /** Outbound bytes a player may have queued before frames are dropped to the next keyframe. */
  maxOutboundBytes: number;
}

/** What the relay says about a publish before any media is accepted. */
export type PublishDecision = { ok: true } | { ok: false; reason: string };

export interface PublishRequest {
  readonly path: StreamPath;
  readonly sessionId: string;
  readonly remote: string;
}

export interface SessionContext {
  readonly hub: StreamHub;
  /**
   * Asked before a publish is accepted (destination lookup). A rejection answers
   * NetStream.Publish.BadName and ends the session; until the answer, media is not accepted.
   */
  readonly authorizePublish?: (request: PublishRequest) => Promise<PublishDecision>;
  /** Told each time a player's frame is dropped because the player cannot keep up. */
  readonly onPlayerFrameDropped?: () => void;
  /** Apps a client may publish to. */
  readonly publishApps: readonly string[];
  /** Apps a client may play from. */
  readonly playApps: readonly string[];
  readonly limits: SessionLimits;
  readonly logger: Logger;
}

export interface SessionCloseInfo {
  readonly id: string;
  /** The peer's `address:port`. */
  readonly remote: string;
  /** Error code when the session ended on an error. */
  readonly code?: string;
  readonly reason: string;
}

type StreamRole =
  | { role: 'idle' }
  | { role: 'authorizing'; path: string }
  | { role: 'publish'; path: string; live: PublishedStream }
  | { role: 'play'; path: string; subscriber: StreamSubscriber };

/** Session counters, exposed to the server and later to the metrics API. */
export interface SessionStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  audioFrames: number;
  videoFrames: number;
  framesOut: number;
  framesDropped: number;
  mediaWithoutPublish: number;
  unknownCommands: number;
}

let nextSessionNumber = 1;

export class ServerSession implements StreamPublisher {
  readonly id: string;
  readonly remoteAddress: string;
  readonly stats: SessionStats = {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    audioFrames: 0,
    videoFrames: 0,
    framesOut: 0,
    framesDropped: 0,
    mediaWithoutPublish: 0,
    unknownCommands: 0,
  };
  private readonly socket: Socket;
  private readonly ctx: SessionContext;
  /** A child per session; it gains userId and streamId once the session publishes or plays. */
  private log: Logger;
  private readonly handshake: ServerHandshake;
  private readonly parser: ChunkParser;
  private readonly writer = new ChunkWriter();
  private readonly streams = new Map<number, StreamRole>();
  private readonly onClose: (info: SessionCloseInfo) => void;
  private nextStreamId = 1;
  private app: string | null = null;
  private closed = false;
  private lastActivityMs = Date.now();
  private handshakeTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly control = new ProtocolControl((csid, message) => this.send(csid, message));

  constructor(socket: Socket, ctx: SessionContext, onClose: (info: SessionCloseInfo) => void) {
    this.id = `s${nextSessionNumber++}`;
    this.socket = socket;
    this.ctx = ctx;
    this.onClose = onClose;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.log = ctx.logger.child({ session: this.id, remote: this.remoteAddress });
    this.handshake = new ServerHandshake({ send: (bytes) => this.writeRaw(bytes) });
    this.parser = new ChunkParser({ limits: ctx.limits, onMessage: (m) => this.onMessage(m) });

    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.close(undefined, `socket error ${err.code ?? err.message}`),
    );
    socket.on('close', () => this.close(undefined, 'socket closed'));

    this.handshakeTimer = setTimeout(() => {
      this.fail(
        new RtmpError(RtmpErrorCode.HANDSHAKE_TIMEOUT, `handshake not done within ${ctx.limits.handshakeTimeoutMs} ms`),
      );
    }, ctx.limits.handshakeTimeoutMs);
    const idleCheckMs = Math.max(50, Math.min(1000, Math.floor(ctx.limits.idleTimeoutMs / 4)));
    this.idleTimer = setInterval(() => this.checkIdle(), idleCheckMs);
    this.log.debug('session opened');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** StreamPublisher: a newer publisher took our path. */
  replaced(byId: string): void {
    this.log.info({ by: byId }, 'publisher replaced by a new session on the same path');
    for (const [streamId, role] of this.streams) {
      if (role.role === 'publish') this.streams.set(streamId, { role: 'idle' });
    }
    this.close(undefined, 'replaced by a new publisher');
  }

  /** StreamPublisher: connected, but no media for `silentMs`. */
  endStalled(silentMs: number): void {
    this.close(RtmpErrorCode.PUBLISH_STALLED, `no media for ${silentMs} ms`);
  }

  /** End the session (idempotent). `code` marks an error ending. */
  close(code: string | undefined, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.handshakeTimer = null;
    this.idleTimer = null;
    for (const streamId of [...this.streams.keys()]) this.releaseStream(streamId);
    this.streams.clear();
    if (code) this.socket.destroy();
    else this.socket.end();
    // A peer that never reads must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    const info: SessionCloseInfo = code
      ? { id: this.id, remote: this.remoteAddress, code, reason }
      : { id: this.id, remote: this.remoteAddress, reason };
    if (code) this.log.warn({ code, reason, bytesIn: this.stats.bytesIn }, 'session ended on error');
    else this.log.info({ reason, bytesIn: this.stats.bytesIn, bytesOut: this.stats.bytesOut }, 'session closed');
    this.onClose(info);
  }

  private fail(err: unknown): void {
    const peerFault = asRtmpError(err);
    if (peerFault !== null) {
      this.close(peerFault.code, peerFault.message);
    } else {
      // A bug of ours, not the peer's: end this session only, and say so loudly.
      this.log.error({ err }, 'internal error in session');
      this.close(RtmpErrorCode.INTERNAL, err instanceof Error ? err.message : String(err));
    }
  }

  private onData(data: Buffer): void {
    if (this.closed) return;
    this.lastActivityMs = Date.now();
    this.stats.bytesIn += data.length;
    try {
      if (!this.handshake.done) {
        const rest = this.handshake.push(data);
        if (rest === undefined) return;
        if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
        this.handshakeTimer = null;
        this.log.debug({ mode: this.handshake.mode }, 'handshake done');
        if (rest.length > 0) this.parser.push(rest);
      } else {
        this.parser.push(data);
      }
      this.control.acknowledge(this.parser.bytesReceived);
    } catch (err) {
      this.fail(err);
    }
  }

  private onEnd(): void {
    if (this.closed) return;
    if (!this.handshake.done) {
      this.fail(
        new RtmpError(RtmpErrorCode.HANDSHAKE_TRUNCATED, `peer closed after ${this.stats.bytesIn} handshake bytes`),
      );
    } else if (this.parser.midMessage) {
      this.fail(new RtmpError(RtmpErrorCode.TRUNCATED, 'peer closed in the middle of a message'));
    } else {
      this.close(undefined, 'peer closed');
    }
  }

  private checkIdle(): void {
    if (Date.now() - this.lastActivityMs >= this.ctx.limits.idleTimeoutMs) {
      this.fail(
        new RtmpError(RtmpErrorCode.IDLE_TIMEOUT, `no bytes in or out for ${this.ctx.limits.idleTimeoutMs} ms`),
      );
    }
  }

  private writeRaw(bytes: Buffer): void {
    if (this.closed && this.socket.destroyed) return;
    this.stats.bytesOut += bytes.length;
    this.lastActivityMs = Date.now();
    this.socket.write(bytes);
  }

  private send(csid: number, message: OutgoingMessage): void {
    this.writeRaw(this.writer.write(csid, message));
  }

  private sendCommand(streamId: number, ...values: Amf0Value[]): void {
    this.send(CSID_COMMAND, {
      typeId: MessageType.COMMAND_AMF0,
      streamId,
      timestampMs: 0,
      payload: encodeAmf0(...values),
    });
  }

  private sendStatus(streamId: number, level: 'status' | 'error' | 'warning', code: string, description: string): void {
    this.sendCommand(streamId, 'onStatus', 0, null, { level, code, description });
  }

  private onMessage(message: RtmpMessage): void {
    this.stats.messagesIn++;
    if (this.control.handle(message)) return;
    switch (message.typeId) {
      case MessageType.SHARED_OBJECT_AMF0:
        return; // nothing for us to do
      case MessageType.COMMAND_AMF0:
        return this.onCommand(message);
      case MessageType.DATA_AMF0:
        return this.onData0(message);
      case MessageType.AUDIO:
      case MessageType.VIDEO:
        return this.onMedia(
          message.typeId === MessageType.AUDIO ? 'audio' : 'video',
          message.streamId,
          message.timestampMs,
          message.payload,
        );
      case MessageType.AGGREGATE:
        return this.onAggregate(message);
      case MessageType.COMMAND_AMF3:
      case MessageType.DATA_AMF3:
      case MessageType.SHARED_OBJECT_AMF3:
        throw new RtmpError(
          RtmpErrorCode.AMF3_UNSUPPORTED,
          `AMF3-encoded message (type ${message.typeId}) is not supported; connect with objectEncoding 0 (AMF0)`,
        );
      default:
        throw new RtmpError(RtmpErrorCode.MESSAGE_TYPE, `unexpected message type ${message.typeId}`);
    }
  }

  private onCommand(message: RtmpMessage): void {
    const values = decodeAmf0(message.payload);
    const [name, txn] = values;
    if (typeof name !== 'string' || name.length === 0) {
      throw new RtmpError(RtmpErrorCode.COMMAND_INVALID, 'command message without a command name');
    }
    const transactionId = typeof txn === 'number' ? txn : 0;
    const args = values.slice(3);
    if (name !== 'connect' && this.app === null && !name.startsWith('_')) {
      throw new RtmpError(RtmpErrorCode.COMMAND_STATE, `command "${name.slice(0, 64)}" before connect`);
    }
    switch (name) {
      case 'connect':
        return this.onConnect(transactionId, values[2]);
      case 'releaseStream':
      case 'FCUnpublish':
        return this.sendCommand(0, '_result', transactionId, null);
      case 'FCPublish':
        this.sendCommand(0, 'onFCPublish', 0, null, {
          code: 'NetStream.Publish.Start',
          description: String(args[0] ?? ''),
        });
        return this.sendCommand(0, '_result', transactionId, null);
      case 'createStream':
        return this.onCreateStream(transactionId);
      case 'publish':
        return this.onPublish(message.streamId, args[0]);
      case 'play':
        return this.onPlay(message.streamId, args[0]);
      case 'deleteStream':
      case 'closeStream': {
        const id = name === 'deleteStream' && typeof args[0] === 'number' ? args[0] : message.streamId;
        return this.releaseStream(id);
      }
      case 'getStreamLength':
        return this.sendCommand(0, '_result', transactionId, null, 0);
      case '_checkbw':
      case 'checkBandwidth':
        return this.sendCommand(0, '_result', transactionId, null);
      case '_result':
      case '_error':
      case 'onBWDone':
      case 'receiveAudio':
      case 'receiveVideo':
      case 'pause':
      case 'seek':
        return;
      default:
        this.stats.unknownCommands++;
        this.log.debug({ command: name.slice(0, 64) }, 'unknown command ignored');
        if (transactionId > 0) {
          this.sendCommand(0, '_error', transactionId, null, {
            level: 'error',
            code: 'NetConnection.Call.Failed',
            description: 'unknown command',
          });
        }
    }
  }

  private onConnect(transactionId: number, commandObject: Amf0Value): void {
    if (this.app !== null) throw new RtmpError(RtmpErrorCode.COMMAND_STATE, 'connect on a connected session');
    if (
      commandObject === null ||
      typeof commandObject !== 'object' ||
      Array.isArray(commandObject) ||
      commandObject instanceof Date
    ) {
      throw new RtmpError(RtmpErrorCode.COMMAND_INVALID, 'connect without a command object');
    }
    const props = commandObject as Record<string, Amf0Value>;
    const app = typeof props.app === 'string' ? normaliseApp(props.app) : '';
    const appHead = app.split('/')[0] ?? '';
    const known = this.ctx.publishApps.includes(appHead) || this.ctx.playApps.includes(appHead);
    if (!known) {
      this.sendCommand(0, '_error', transactionId, null, {
        level: 'error',
        code: 'NetConnection.Connect.Rejected',
        description: `unknown app "${appHead.slice(0, 64)}"`,
      });
      this.log.info({ rtmpApp: appHead.slice(0, 64) }, 'connect rejected: unknown app');
      this.close(undefined, 'connect rejected');
      return;
    }
    this.app = app;
    this.send(CONTROL_CSID, windowAckSizeMessage(DEFAULT_WINDOW_ACK_BYTES));
    this.send(CONTROL_CSID, setPeerBandwidthMessage(DEFAULT_WINDOW_ACK_BYTES, PeerBandwidthLimit.DYNAMIC));
    this.send(CONTROL_CSID, setChunkSizeMessage(DEFAULT_OUT_CHUNK_SIZE));
    this.writer.chunkSize = DEFAULT_OUT_CHUNK_SIZE;
    this.sendCommand(
      0,
      '_result',
      transactionId,
      { fmsVer: 'FMS/3,5,7,7009', capabilities: 31, mode: 1 },
      {
        level: 'status',
        code: 'NetConnection.Connect.Success',
        description: 'Connection succeeded.',
        objectEncoding: 0,
      },
    );
    this.log.debug({ rtmpApp: appHead }, 'connected');
  }

  private onCreateStream(transactionId: number): void {
    if (this.streams.size >= this.ctx.limits.maxStreamsPerSession) {
      throw new RtmpError(
        RtmpErrorCode.COMMAND_STATE,
        `more than ${this.ctx.limits.maxStreamsPerSession} streams in one session`,
      );
    }
    const streamId = this.nextStreamId++;
    this.streams.set(streamId, { role: 'idle' });
    this.sendCommand(0, '_result', transactionId, null, streamId);
  }

  private streamRole(streamId: number, command: string): StreamRole {
    const role = this.streams.get(streamId);
    if (role === undefined) {
      throw new RtmpError(RtmpErrorCode.STREAM_ID, `${command} on message stream ${streamId}, which was never created`);
    }
    if (role.role !== 'idle') {
      throw new RtmpError(
        RtmpErrorCode.COMMAND_STATE,
        `${command} on message stream ${streamId}, which is already in use`,
      );
    }
    return role;
  }

  private onPublish(streamId: number, name: Amf0Value): void {
    this.streamRole(streamId, 'publish');
    const resolved = typeof name === 'string' ? resolveStreamPath(this.app ?? '', name, this.ctx.publishApps) : null;
    if (resolved === null) {
      this.rejectPublish(streamId, 'stream path must be app/userId/streamId');
      return;
    }
    const authorize = this.ctx.authorizePublish;
    if (authorize === undefined) {
      this.startPublish(streamId, resolved);
      return;
    }
    this.streams.set(streamId, { role: 'authorizing', path: resolved.path });
    authorize({ path: resolved, sessionId: this.id, remote: this.remoteAddress }).then(
      (decision) => {
        if (this.closed || this.streams.get(streamId)?.role !== 'authorizing') return;
        if (decision.ok) this.startPublish(streamId, resolved);
        else this.rejectPublish(streamId, decision.reason);
      },
      (err: unknown) => {
        if (this.closed) return;
        this.log.error({ err }, 'publish authorization failed');
        this.rejectPublish(streamId, 'publish authorization failed');
      },
    );
  }

  private rejectPublish(streamId: number, reason: string): void {
    this.sendStatus(streamId, 'error', 'NetStream.Publish.BadName', reason);
    this.log.info({ reason }, 'publish rejected');
    this.close(undefined, `publish rejected: ${reason}`);
  }

  private startPublish(streamId: number, resolved: StreamPath): void {
    this.log = this.log.child({ userId: resolved.userId, streamId: resolved.streamId });
    const live = this.ctx.hub.publish(resolved.path, this);
    this.streams.set(streamId, { role: 'publish', path: resolved.path, live });
    this.send(CONTROL_CSID, streamBeginMessage(streamId));
    this.sendStatus(streamId, 'status', 'NetStream.Publish.Start', `${resolved.path} is now published`);
    this.log.info({ path: resolved.path }, 'publish started');
  }

  private onPlay(streamId: number, name: Amf0Value): void {
    this.streamRole(streamId, 'play');
    const resolved = typeof name === 'string' ? resolveStreamPath(this.app ?? '', name, this.ctx.playApps) : null;
    if (resolved === null) {
      this.sendStatus(streamId, 'error', 'NetStream.Play.StreamNotFound', 'stream path must be app/userId/streamId');
      this.log.info('play rejected: bad stream path');
      this.close(undefined, 'play rejected: bad stream path');
      return;
    }
    this.log = this.log.child({ userId: resolved.userId, streamId: resolved.streamId });
    this.send(CONTROL_CSID, streamBeginMessage(streamId));
    this.sendStatus(streamId, 'status', 'NetStream.Play.Reset', `playing and resetting ${resolved.path}`);
    this.sendStatus(streamId, 'status', 'NetStream.Play.Start', `started playing ${resolved.path}`);
    this.send(CSID_DATA, {
      typeId: MessageType.DATA_AMF0,
      streamId,
      timestampMs: 0,
      payload: encodeAmf0('|RtmpSampleAccess', true, true),
    });
    const subscriber = new PlaySubscriber(this, streamId);
    this.streams.set(streamId, { role: 'play', path: resolved.path, subscriber });
    this.ctx.hub.subscribe(resolved.path, subscriber);
    this.log.info({ path: resolved.path }, 'play started');
  }

  private releaseStream(streamId: number): void {
    const role = this.streams.get(streamId);
    if (role === undefined) return;
    if (role.role === 'publish') {
      this.ctx.hub.unpublish(role.path, this);
      this.log.info({ path: role.path, frames: role.live.stats.framesIn }, 'publish ended');
    } else if (role.role === 'play') {
      this.ctx.hub.unsubscribe(role.path, role.subscriber);
    }
    if (this.closed) this.streams.delete(streamId);
    else this.streams.set(streamId, { role: 'idle' });
  }

  /** Data messages: onMetaData (with or without @setDataFrame) from a publisher. */
  private onData0(message: RtmpMessage): void {
    const role = this.streams.get(message.streamId);
    if (role?.role !== 'publish') return; // |RtmpSampleAccess and friends from players
    const reader = new Amf0Reader(message.payload);
    let name = reader.readValue();
    let bodyStart = 0;
    if (name === SET_DATA_FRAME) {
      bodyStart = reader.offset;
      name = reader.readValue();
    }
    if (name !== 'onMetaData') return;
    // Validate the rest, then keep the original bytes from "onMetaData" on.
    while (reader.remaining > 0) reader.readValue();
    role.live.pushMetadata(message.timestampMs, message.payload.subarray(bodyStart));
  }

  private onMedia(kind: 'audio' | 'video', streamId: number, timestampMs: number, payload: Buffer): void {
    const role = this.streams.get(streamId);
    if (role?.role !== 'publish') {
      this.stats.mediaWithoutPublish++;
      return;
    }
    if (kind === 'audio') this.stats.audioFrames++;
    else this.stats.videoFrames++;
    role.live.pushMedia(kind, timestampMs, payload);
  }

  /** §7.1.6: aggregate messages carry several media/data sub-messages. */
  private onAggregate(message: RtmpMessage): void {
    for (const sub of splitAggregate(message)) {
      if (sub.typeId === MessageType.AUDIO || sub.typeId === MessageType.VIDEO) {
        this.onMedia(sub.typeId === MessageType.AUDIO ? 'audio' : 'video', sub.streamId, sub.timestampMs, sub.payload);
      } else if (sub.typeId === MessageType.DATA_AMF0) {
        this.onData0(sub);
      }
    }
  }

  /** Used by PlaySubscriber. */
  sendMedia(streamId: number, frame: MediaFrame): boolean {
    if (this.closed) return false;
    const csid = frame.kind === 'audio' ? CSID_AUDIO : frame.kind === 'video' ? CSID_VIDEO : CSID_DATA;
    const typeId =
      frame.kind === 'audio' ? MessageType.AUDIO : frame.kind === 'video' ? MessageType.VIDEO : MessageType.DATA_AMF0;
    this.send(csid, { typeId, streamId, timestampMs: frame.timestampMs, payload: frame.payload });
    this.stats.framesOut++;
    return true;
  }

  /** Used by PlaySubscriber. */
  sendPlayStatus(streamId: number, event: 'start' | 'end', path: string): void {
    if (this.closed) return;
    if (event === 'end') {
      this.send(CONTROL_CSID, streamEofMessage(streamId));
      this.sendStatus(streamId, 'status', 'NetStream.Play.UnpublishNotify', `${path} is now unpublished`);
    } else {
      this.send(CONTROL_CSID, streamBeginMessage(streamId));
      this.sendStatus(streamId, 'status', 'NetStream.Play.PublishNotify', `${path} is now published`);
    }
  }

  /** Outbound bytes waiting in the socket. */
  get outboundBytes(): number {
    return this.socket.writableLength;
  }

  get maxOutboundBytes(): number {
    return this.ctx.limits.maxOutboundBytes;
  }

  countDropped(): void {
    this.stats.framesDropped++;
    this.ctx.onPlayerFrameDropped?.();
  }
}

/**
 * Feeds one played stream to its session. When the player falls behind (its socket
 * buffer passes the limit), frames are dropped up to the next keyframe, so memory stays
 * bounded and playback resumes decodable.
 */
class PlaySubscriber implements StreamSubscriber {
  private waitForKeyframe = false;
  /** Whether the metadata/sequence-header preamble of the current publish was sent. */
  private started = false;

  constructor(
    private readonly session: ServerSession,
    private readonly streamId: number,
  ) {}

  onPublishStart(path: string): void {
    if (this.started) this.session.sendPlayStatus(this.streamId, 'start', path);
    this.started = true;
  }

  onPublishEnd(path: string): void {
    this.session.sendPlayStatus(this.streamId, 'end', path);
  }

  onFrame(frame: MediaFrame): void {
    const critical = frame.kind === 'data' || frame.isSequenceHeader;
    if (!critical) {
      if (this.session.outboundBytes > this.session.maxOutboundBytes) this.waitForKeyframe = true;
      if (this.waitForKeyframe) {
        if (!(frame.isKeyframe && this.session.outboundBytes <= this.session.maxOutboundBytes / 2)) {
          this.session.countDropped();
          return;
        }
        this.waitForKeyframe = false;
      }
    }
    this.session.sendMedia(this.streamId, frame);
  }
}
