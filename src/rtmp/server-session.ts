/**
 * The server side's commands (RTMP 1.0 §7.2) over one {@link RtmpConnection}, which does
 * the handshake, chunk stream and protocol control.
 *
 * Publish: connect -> _result(NetConnection.Connect.Success); releaseStream, FCPublish (->
 * onFCPublish); createStream -> stream id; publish -> StreamBegin + onStatus(NetStream.
 * Publish.Start); @setDataFrame/onMetaData; audio/video; FCUnpublish, deleteStream.
 * Play: connect; createStream; play -> StreamBegin + onStatus(Play.Reset, Play.Start),
 * then metadata, sequence headers and the GOP from the latest keyframe, then live media.
 * Any protocol violation, or a deadline missed, ends this session only.
 */
import { sessionTicker } from '../media/session-ticker.js';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Amf0Value } from '../media/amf0.js';
import { encodeAmf0 } from '../media/amf0-writer.js';
import type { MediaFrame, TagKind } from '../media/tag-kinds.js';
import type { OutgoingMessage } from './chunk-writer.js';
import {
  CONTROL_CSID,
  PeerBandwidthLimit,
  setPeerBandwidthMessage,
  streamBeginMessage,
  streamEofMessage,
  windowAckSizeMessage,
} from './control-messages.js';
import { RtmpError, RtmpErrorCode, asRtmpError } from './errors.js';
import { ChunkStreamId, DEFAULT_OUT_CHUNK_SIZE, DEFAULT_WINDOW_ACK_BYTES, MessageType } from './message-types.js';
import { CommandDeadlines } from './command-deadlines.js';
import { CONNECT_SUCCESS, readConnectCommand, type ConnectRequest } from './connect-command.js';
import { metadataBody } from './metadata-message.js';
import { admitPublish, checkPublishToken, type PublishAdmission } from './publish-admission.js';
import { PlaySubscriber, type PlayerSink } from './play-subscriber.js';
import { RtmpConnection, type RtmpCommand, type RtmpConnectionHandler } from './rtmp-connection.js';
import { newSessionStats, type SessionCloseInfo, type SessionContext, type SessionStats } from './session-context.js';
import type { PublishedStream, StreamPublisher, StreamSubscriber } from './stream-hub.js';
import { resolveStreamPath, type StreamPath } from './stream-path.js';

type StreamRole =
  | { role: 'idle' }
  | { role: 'authorizing'; path: string }
  | { role: 'publish'; path: string; live: PublishedStream }
  | { role: 'play'; path: string; subscriber: StreamSubscriber };

let nextSessionNumber = 1;

export class ServerSession implements StreamPublisher, RtmpConnectionHandler, PlayerSink {
  readonly id: string;
  readonly remoteAddress: string;
  readonly stats: SessionStats = newSessionStats();
  private readonly ctx: SessionContext;
  /** A child per session; it gains userId and streamId once the session publishes or plays. */
  private log: Logger;
  private readonly connection: RtmpConnection;
  private readonly streams = new Map<number, StreamRole>();
  private readonly onClose: (info: SessionCloseInfo) => void;
  private nextStreamId = 1;
  private app: string | null = null;
  private connectRequest: ConnectRequest | null = null;
  /** The digest of the publish token this session presented (StreamPublisher). */
  credential: string | undefined;
  private closed = false;
  /** Removes the idle check from the shared ticker (null once closed). */
  private untick: (() => void) | null = null;
  private readonly deadlines: CommandDeadlines;

  constructor(socket: Socket, ctx: SessionContext, onClose: (info: SessionCloseInfo) => void) {
    this.id = `s${nextSessionNumber++}`;
    this.ctx = ctx;
    this.onClose = onClose;
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.log = ctx.logger.child({ session: this.id, remote: this.remoteAddress });
    socket.setNoDelay(true);
    this.deadlines = new CommandDeadlines(ctx.limits, (err) => this.fail(err));
    this.connection = new RtmpConnection({
      socket,
      side: 'server',
      parserLimits: ctx.limits,
      peerLabel: 'peer',
      handler: this,
      counters: this.stats,
      handshakeTimeoutMs: ctx.limits.handshakeTimeoutMs,
    });
    this.untick = sessionTicker.add((nowMs) => this.checkIdle(nowMs));
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

  /**
   * End the session (idempotent). `code` marks an error ending; such a socket is destroyed
   * at once unless `how` is 'end' (a refusal whose answer the peer should read).
   */
  close(code: string | undefined, reason: string, how: 'end' | 'destroy' = code ? 'destroy' : 'end'): void {
    if (this.closed) return;
    this.closed = true;
    this.deadlines.clear();
    this.untick?.();
    this.untick = null;
    for (const streamId of [...this.streams.keys()]) this.releaseStream(streamId);
    this.streams.clear();
    // An orderly end still destroys a peer that never reads, after a grace period.
    this.connection.shutdown(how);
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

  // RtmpConnectionHandler ---------------------------------------------------------------

  onHandshakeDone(mode: string): void {
    this.log.debug({ mode }, 'handshake done');
    this.deadlines.handshakeDone();
  }

  onPeerEnd(error: RtmpError | null): void {
    if (error) this.fail(error);
    else this.close(undefined, 'peer closed');
  }

  onSocketError(err: NodeJS.ErrnoException): void {
    this.close(undefined, `socket error ${err.code ?? err.message}`);
  }

  onSocketClose(): void {
    this.close(undefined, 'socket closed');
  }

  onFault(err: unknown): void {
    this.fail(err);
  }

  onMedia(kind: TagKind, streamId: number, timestampMs: number, payload: Buffer): void {
    if (kind === 'data') this.onDataMessage(streamId, timestampMs, payload);
    else this.onAudioVideo(kind, streamId, timestampMs, payload);
  }

  private checkIdle(nowMs: number): void {
    if (nowMs - this.connection.lastActivityMs >= this.ctx.limits.idleTimeoutMs) {
      this.fail(
        new RtmpError(RtmpErrorCode.IDLE_TIMEOUT, `no bytes in or out for ${this.ctx.limits.idleTimeoutMs} ms`),
      );
    }
  }

  private send(csid: number, message: OutgoingMessage): void {
    this.connection.send(csid, message);
  }

  private sendCommand(streamId: number, ...values: Amf0Value[]): void {
    this.connection.sendCommand(streamId, ...values);
  }

  private sendStatus(streamId: number, level: 'status' | 'error' | 'warning', code: string, description: string): void {
    this.sendCommand(streamId, 'onStatus', 0, null, { level, code, description });
  }

  onCommand(command: RtmpCommand): void {
    const { name, transactionId, values } = command;
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
        return this.onPublish(command.streamId, args[0]);
      case 'play':
        return this.onPlay(command.streamId, args[0]);
      case 'deleteStream':
      case 'closeStream': {
        const id = name === 'deleteStream' && typeof args[0] === 'number' ? args[0] : command.streamId;
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
    const request = readConnectCommand(commandObject);
    const { app, appHead } = request;
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
    this.connectRequest = request;
    this.deadlines.connected();
    this.send(CONTROL_CSID, windowAckSizeMessage(DEFAULT_WINDOW_ACK_BYTES));
    this.send(CONTROL_CSID, setPeerBandwidthMessage(DEFAULT_WINDOW_ACK_BYTES, PeerBandwidthLimit.DYNAMIC));
    this.connection.setOutChunkSize(DEFAULT_OUT_CHUNK_SIZE);
    this.sendCommand(0, '_result', transactionId, ...CONNECT_SUCCESS);
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
    this.deadlines.clear();
    const resolved = typeof name === 'string' ? resolveStreamPath(this.app ?? '', name, this.ctx.publishApps) : null;
    if (resolved === null) {
      this.rejectPublish(streamId, null, 'stream path must be app/userId/streamId');
      return;
    }
    const url = { name: String(name), app: this.connectRequest?.rawApp ?? '', tcUrl: this.connectRequest?.tcUrl ?? '' };
    const token = checkPublishToken(this.ctx.publishSecrets, resolved.path, url);
    if (!token.ok) {
      this.rejectPublish(streamId, token.code, token.reason, resolved);
      return;
    }
    this.credential = token.credential;
    this.streams.set(streamId, { role: 'authorizing', path: resolved.path });
    const request = { path: resolved, sessionId: this.id, remote: this.remoteAddress };
    const gone = (): boolean => this.closed || this.streams.get(streamId)?.role !== 'authorizing';
    const decide = (admission: PublishAdmission): void => {
      if (gone()) return;
      if (admission.ok) this.startPublish(streamId, resolved, admission.stream);
      else this.rejectPublish(streamId, admission.code, admission.reason, resolved);
    };
    const admission = admitPublish(this.ctx, request, this, gone);
    if (!(admission instanceof Promise)) return decide(admission);
    admission.then(decide, (err: unknown) => {
      if (this.closed) return;
      this.log.error({ err }, 'publish authorization failed');
      this.rejectPublish(streamId, null, 'publish authorization failed', resolved);
    });
  }

  /** Answer BadName and end the session; a coded refusal is logged and counted under its code. */
  private rejectPublish(streamId: number, code: string | null, reason: string, path?: StreamPath): void {
    this.sendStatus(streamId, 'error', 'NetStream.Publish.BadName', reason);
    const fields = path ? { code, reason, path: path.path } : { code, reason };
    if (code) this.log.warn(fields, 'publish refused');
    else this.log.info(fields, 'publish rejected');
    this.close(code ?? undefined, `publish rejected: ${reason}`, 'end');
  }

  private startPublish(streamId: number, resolved: StreamPath, live: PublishedStream): void {
    this.log = this.log.child({ userId: resolved.userId, streamId: resolved.streamId });
    this.streams.set(streamId, { role: 'publish', path: resolved.path, live });
    this.send(CONTROL_CSID, streamBeginMessage(streamId));
    this.sendStatus(streamId, 'status', 'NetStream.Publish.Start', `${resolved.path} is now published`);
    this.log.info({ path: resolved.path }, 'publish started');
  }

  private onPlay(streamId: number, name: Amf0Value): void {
    this.streamRole(streamId, 'play');
    this.deadlines.clear();
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
    this.send(ChunkStreamId.DATA, {
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
  private onDataMessage(streamId: number, timestampMs: number, payload: Buffer): void {
    const role = this.streams.get(streamId);
    if (role?.role !== 'publish') return; // |RtmpSampleAccess and friends from players
    const body = metadataBody(payload);
    if (body !== null) role.live.pushMetadata(timestampMs, body);
  }

  private onAudioVideo(kind: 'audio' | 'video', streamId: number, timestampMs: number, payload: Buffer): void {
    const role = this.streams.get(streamId);
    if (role?.role !== 'publish') {
      this.stats.mediaWithoutPublish++;
      return;
    }
    if (kind === 'audio') this.stats.audioFrames++;
    else this.stats.videoFrames++;
    role.live.pushMedia(kind, timestampMs, payload);
  }

  /** Used by PlaySubscriber. */
  sendMedia(streamId: number, frame: MediaFrame): boolean {
    if (this.closed) return false;
    this.connection.sendMedia(frame.kind, streamId, frame.timestampMs, frame.payload);
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
    return this.connection.writableLength;
  }

  get maxOutboundBytes(): number {
    return this.ctx.limits.maxOutboundBytes;
  }

  countDropped(): void {
    this.stats.framesDropped++;
    this.ctx.onPlayerFrameDropped?.();
  }
}
