/**
 * RTMP client (publisher or player): RTMP 1.0 §5.2 handshake (digest mode, as FFmpeg's and
 * Flash Player's clients), §5.3 chunk stream, §5.4 protocol control, §7.1.7 user control,
 * §7.2.1 NetConnection commands (connect, createStream, _result/_error) and §7.2.2
 * NetStream commands (play, publish, deleteStream, onStatus).
 *
 * Publish: connect -> _result(NetConnection.Connect.Success); Window Ack Size + Set Chunk
 * Size; releaseStream + FCPublish (answers not awaited: servers answer them with _result,
 * _error, onFCPublish or nothing); createStream -> stream id; publish(name, 'live') ->
 * onStatus(NetStream.Publish.Start); media; FCUnpublish + deleteStream on close.
 * Play: connect; createStream; Set Buffer Length; play(name) -> onStatus(Play.Reset,
 * Play.Start); then audio/video/data messages until Play.UnpublishNotify / StreamEOF.
 *
 * The client never throws out of a socket event: a protocol error ends the connection and
 * the 'close' event carries the RtmpError; every pending command rejects.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Amf0Value } from '../media/amf0.js';
import { encodeAmf0 } from '../media/amf0-writer.js';
import type { OutgoingMessage } from './chunk-writer.js';
import type { TagKind } from '../media/tag-kinds.js';
import type { ChunkParserLimits } from './chunk-parser.js';
import { CONTROL_CSID, setBufferLengthMessage, windowAckSizeMessage, type UserControl } from './control-messages.js';
import { connectCommandObject, openClientSocket, type ClientTlsOptions } from './client-connect.js';
import { RtmpError, RtmpErrorCode, asRtmpError } from './errors.js';
import {
  ChunkStreamId,
  DEFAULT_OUT_CHUNK_SIZE,
  DEFAULT_WINDOW_ACK_BYTES,
  MessageType,
  UserControlEvent,
} from './message-types.js';
import { ClientCalls, infoObject, text } from './client-calls.js';
import { RtmpConnection, type RtmpCommand } from './rtmp-connection.js';
import { parseRtmpUrl, redactUrl, type RtmpUrl } from './rtmp-url.js';

/** Whole connect phase (TCP + TLS + handshake + connect _result) by default. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** §7.2.2.1 play Start: -2 = live if there is one, else recorded. */
const PLAY_START_LIVE_OR_RECORDED = -2;
/** §7.1.7 Set Buffer Length we ask for before play (FFmpeg's default client buffer). */
const PLAY_BUFFER_MS = 3000;
/**
 * Incoming limits: larger than the server's (a played 4K keyframe can pass 4 MB), still
 * bounded so a broken server cannot make us buffer without end.
 */
const CLIENT_PARSER_LIMITS: ChunkParserLimits = {
  maxMessageBytes: 16 * 1024 * 1024,
  maxChunkStreams: 64,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxChunkSize: 16 * 1024 * 1024,
};

// ---------------------------------------------------------------------------
// Client

export interface RtmpClientOptions {
  logger?: Logger;
  /** Covers TCP + TLS + handshake + connect _result; default 10000 ms. */
  connectTimeoutMs?: number;
  /** Our outgoing chunk size, sent with Set Chunk Size after connect; default 4096. */
  chunkSize?: number;
  /** Window Acknowledgement Size we announce after connect; default 2_500_000. */
  windowAckBytes?: number;
  /** rtmps: only. */
  tls?: ClientTlsOptions;
}

export interface PlayedFrame {
  kind: 'audio' | 'video' | 'data';
  timestampMs: number;
  payload: Buffer;
}

export interface RtmpClientEvents {
  /** The connection ended: null when it ended cleanly (close(), or the server closed between messages). */
  close: [Error | null];
  /** Every onStatus info object the server sends. */
  status: [Record<string, unknown>];
  /** The played stream's publisher left (Play.UnpublishNotify, Play.Stop or StreamEOF). */
  unpublish: [];
  /** The socket's send buffer drained (after sendMedia returned false). */
  drain: [];
}

type Role = 'none' | 'publishing' | 'playing';

export class RtmpClient extends EventEmitter<RtmpClientEvents> {
  private readonly url: RtmpUrl;
  private readonly redacted: string;
  private readonly log: Logger | undefined;
  private readonly connectTimeoutMs: number;
  private readonly outChunkSize: number;
  private readonly windowAckBytes: number;
  private readonly connection: RtmpConnection;
  private readonly calls = new ClientCalls();
  private role: Role = 'none';
  private busy = false;
  private streamId: number | null = null;
  /** The connect command, encoded at open() and sent once the handshake is done. */
  private connectCommand: Buffer | null = null;
  private onFrame: ((frame: PlayedFrame) => void) | null = null;
  private unpublishSignalled = false;
  private connectTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private ended = false;

  private constructor(url: RtmpUrl, redacted: string, options: RtmpClientOptions) {
    super();
    this.url = url;
    this.redacted = redacted;
    this.log = options.logger?.child({ component: 'rtmp-client', url: redacted });
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.outChunkSize = options.chunkSize ?? DEFAULT_OUT_CHUNK_SIZE;
    this.windowAckBytes = options.windowAckBytes ?? DEFAULT_WINDOW_ACK_BYTES;
    if (!Number.isInteger(this.outChunkSize) || this.outChunkSize < 1 || this.outChunkSize > 0x7fffffff) {
      throw new RangeError(`chunkSize ${this.outChunkSize} outside 1..2147483647`);
    }
    if (!Number.isInteger(this.windowAckBytes) || this.windowAckBytes < 1 || this.windowAckBytes > 0xffffffff) {
      throw new RangeError(`windowAckBytes ${this.windowAckBytes} outside 1..4294967295`);
    }
    const socket = openClientSocket(url, options.tls, () => this.onConnected());
    this.connection = new RtmpConnection({
      socket,
      side: 'client',
      parserLimits: CLIENT_PARSER_LIMITS,
      peerLabel: redacted,
      handler: {
        onHandshakeDone: () => this.onHandshakeDone(),
        onCommand: (command) => this.onCommand(command),
        onMedia: (kind, streamId, timestampMs, payload) => this.deliver(kind, streamId, timestampMs, payload),
        onUserControl: (uc) => this.onUserControl(uc),
        onPeerEnd: (error) => this.onPeerEnd(error),
        onSocketError: (err) => this.fail(err),
        onSocketClose: () => this.onSocketClose(),
        onFault: (err) => this.fail(err),
        onDrain: () => this.emit('drain'),
      },
    });
  }

  /**
   * Connect (TCP, or TLS with SNI for rtmps:), handshake (digest mode), send connect and
   * wait for _result NetConnection.Connect.Success. An _error rejects with PEER_REJECTED
   * and the server's description; the whole phase is bounded by connectTimeoutMs
   * (HANDSHAKE_TIMEOUT). Socket errors (ECONNREFUSED...) reject as they are.
   */
  static async connect(url: string, options: RtmpClientOptions = {}): Promise<RtmpClient> {
    const parsed = parseRtmpUrl(url);
    const client = new RtmpClient(parsed, redactUrl(url), options);
    await client.open();
    return client;
  }

  /** True once close() was called or the connection ended. */
  get closed(): boolean {
    return this.closing || this.ended;
  }

  /** Bytes queued in the socket (for backpressure decisions). */
  get writableLength(): number {
    return this.connection.writableLength;
  }

  /** Bytes written to the connection so far, queued ones included. */
  get bytesWritten(): number {
    return this.connection.counters.bytesOut;
  }

  /** Of bytesWritten, how many the server has acknowledged; null until its first Acknowledgement. */
  get bytesAcknowledged(): number | null {
    return this.connection.bytesAcknowledged;
  }

  /**
   * createStream + play(streamName). Resolves on NetStream.Play.Start; from then on (and
   * for anything the server sends right after it) `onFrame` gets every audio, video and
   * data message of the stream (|RtmpSampleAccess included). An error status (e.g.
   * Play.StreamNotFound) rejects with PEER_REJECTED. If `onFrame` throws, the connection
   * is closed and 'close' carries that error.
   */
  async play(onFrame: (frame: PlayedFrame) => void): Promise<void> {
    this.claim('play');
    const streamId = await this.createStream();
    this.streamId = streamId;
    this.role = 'playing';
    this.onFrame = onFrame;
    const started = this.calls.waitForStatus('play');
    this.send(CONTROL_CSID, setBufferLengthMessage(streamId, PLAY_BUFFER_MS));
    this.sendCommand(
      streamId,
      'play',
      this.calls.transactionId(),
      null,
      this.url.streamName,
      PLAY_START_LIVE_OR_RECORDED,
    );
    await started;
    this.log?.info({ rtmpStreamId: streamId }, 'rtmp client play started');
  }

  /**
   * releaseStream + FCPublish (answers neither awaited nor required) + createStream +
   * publish(streamName, 'live'). Resolves on NetStream.Publish.Start; any error status
   * (Publish.BadName...) rejects with PEER_REJECTED.
   */
  async publish(): Promise<void> {
    this.claim('publish');
    const name = this.url.streamName;
    this.sendCommand(0, 'releaseStream', this.calls.transactionId(), null, name);
    this.sendCommand(0, 'FCPublish', this.calls.transactionId(), null, name);
    const streamId = await this.createStream();
    this.streamId = streamId;
    const started = this.calls.waitForStatus('publish');
    this.sendCommand(streamId, 'publish', this.calls.transactionId(), null, name, 'live');
    await started;
    this.role = 'publishing';
    this.log?.info({ rtmpStreamId: streamId }, 'rtmp client publish started');
  }

  /**
   * Send one message on the published stream (audio csid 4, video csid 6, data csid 5).
   * Returns socket.write's value: false means wait for 'drain'. Data payloads are the AMF0
   * body (e.g. @setDataFrame + onMetaData). Throws when not publishing or closed.
   */
  sendMedia(kind: 'audio' | 'video' | 'data', timestampMs: number, payload: Buffer): boolean {
    if (this.closed) throw new Error('RtmpClient.sendMedia on a closed client');
    if (this.role !== 'publishing' || this.streamId === null)
      throw new Error('RtmpClient.sendMedia before publish() resolved');
    return this.connection.sendMedia(kind, this.streamId, timestampMs, payload);
  }

  /**
   * FCUnpublish + deleteStream when publishing (deleteStream when playing), then end the
   * socket; resolves once it is closed (destroyed after a short grace if the server
   * does not close its side).
   */
  async close(): Promise<void> {
    if (!this.closing && !this.ended) {
      this.closing = true;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      if (this.streamId !== null && this.connection.handshakeDone) {
        if (this.role === 'publishing') {
          this.sendCommand(0, 'FCUnpublish', this.calls.transactionId(), null, this.url.streamName);
        }
        this.sendCommand(0, 'deleteStream', this.calls.transactionId(), null, this.streamId);
      }
      this.connection.endOutput();
    }
    await this.connection.socketClosed;
  }

  // -------------------------------------------------------------------------
  // Connect phase

  private open(): Promise<void> {
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      this.fail(
        new RtmpError(
          RtmpErrorCode.HANDSHAKE_TIMEOUT,
          `connect to ${this.redacted} not done within ${this.connectTimeoutMs} ms`,
        ),
      );
    }, this.connectTimeoutMs);
    const command = connectCommandObject(this.url);
    // Registered now, sent when the handshake is done (see onHandshakeDone).
    const transactionId = this.calls.transactionId();
    const answer = this.calls.expectResult('connect', transactionId);
    this.connectCommand = encodeAmf0('connect', transactionId, command);
    return answer.then(
      (values) => {
        const info = infoObject(values[3] ?? null);
        const code = text(info?.code);
        if (code !== 'NetConnection.Connect.Success') {
          const err = new RtmpError(
            RtmpErrorCode.PEER_REJECTED,
            `connect answered with ${code || 'no status code'}: ${text(info?.description)}`,
          );
          this.fail(err);
          throw err;
        }
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.connectTimer = null;
        this.send(CONTROL_CSID, windowAckSizeMessage(this.windowAckBytes));
        this.connection.setOutChunkSize(this.outChunkSize);
        this.log?.info({ mode: this.connection.handshakeMode }, 'rtmp client connected');
      },
      (err: Error) => {
        // The caller never gets this client: do not leave its socket open.
        this.fail(err);
        throw err;
      },
    );
  }

  private onConnected(): void {
    if (!this.ended) this.connection.start();
  }

  private onHandshakeDone(): void {
    this.log?.debug({ mode: this.connection.handshakeMode }, 'rtmp client handshake done');
    const payload = this.connectCommand;
    this.connectCommand = null;
    if (payload)
      this.send(ChunkStreamId.COMMAND, { typeId: MessageType.COMMAND_AMF0, streamId: 0, timestampMs: 0, payload });
  }

  // -------------------------------------------------------------------------
  // Commands

  private claim(command: 'play' | 'publish'): void {
    if (this.closed) throw new Error(`RtmpClient.${command} on a closed client`);
    if (this.busy) throw new Error(`RtmpClient.${command}: this client already plays or publishes`);
    if (this.url.streamName.length === 0) throw new Error(`RtmpClient.${command}: the URL has no stream name`);
    this.busy = true;
  }

  private async createStream(): Promise<number> {
    const transactionId = this.calls.transactionId();
    const answer = this.calls.expectResult('createStream', transactionId);
    this.sendCommand(0, 'createStream', transactionId, null);
    const values = await answer;
    const id = values[3];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      const err = new RtmpError(RtmpErrorCode.PEER_REJECTED, 'createStream _result without a stream id');
      this.fail(err);
      throw err;
    }
    return id;
  }

  private endedError(command: string): Error {
    return this.closing
      ? new Error(`RtmpClient closed before the server answered ${command}`)
      : new RtmpError(RtmpErrorCode.PEER_REJECTED, `connection ended before the server answered ${command}`);
  }

  // -------------------------------------------------------------------------
  // Socket

  private send(csid: number, message: OutgoingMessage): boolean {
    return this.connection.send(csid, message);
  }

  private sendCommand(streamId: number, ...values: Amf0Value[]): void {
    this.connection.sendCommand(streamId, ...values);
  }

  private onPeerEnd(error: RtmpError | null): void {
    if (this.ended) return;
    if (this.closing || error === null) this.finish(null);
    else this.fail(error);
  }

  private onSocketClose(): void {
    if (this.ended) return;
    if (!this.closing && !this.connection.handshakeDone) {
      this.finish(
        new RtmpError(RtmpErrorCode.HANDSHAKE_TRUNCATED, `${this.redacted} closed the connection during the handshake`),
      );
    } else {
      this.finish(null);
    }
  }

  /** End the connection on an error (idempotent). */
  private fail(err: unknown): void {
    const error = asRtmpError(err) ?? (err instanceof Error ? err : new Error(String(err)));
    if (!this.ended) this.connection.shutdown('destroy');
    this.finish(error);
  }

  private finish(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.calls.end(err, (command) => this.endedError(command));
    if (err) {
      const code = err instanceof RtmpError ? err.code : (err as NodeJS.ErrnoException).code;
      this.log?.warn({ code, reason: err.message }, 'rtmp client connection ended on error');
    } else {
      this.log?.info({ byUs: this.closing }, 'rtmp client connection closed');
    }
    this.emit('close', err);
  }

  // -------------------------------------------------------------------------
  // Incoming messages

  private onUserControl(uc: UserControl): void {
    if (uc.event === UserControlEvent.STREAM_EOF && this.role === 'playing' && uc.value === this.streamId) {
      this.signalUnpublish();
    }
  }

  private onCommand(command: RtmpCommand): void {
    const { name, transactionId, values } = command;
    switch (name) {
      case '_result':
      case '_error':
        return this.calls.answer(name, transactionId, values);
      case 'onStatus':
        return this.onStatus(infoObject(values[3] ?? null) ?? infoObject(values[2] ?? null));
      default:
        // onFCPublish, onBWDone, close, |RtmpSampleAccess...: nothing we need.
        this.log?.debug({ command: name.slice(0, 64) }, 'rtmp client ignored a server command');
    }
  }

  private onStatus(info: Record<string, Amf0Value> | undefined): void {
    if (info === undefined) return;
    this.emit('status', info as Record<string, unknown>);
    const level = text(info.level);
    const code = text(info.code);
    const settled = this.calls.status(info);
    if (settled !== null) {
      if (settled.outcome === 'started' && settled.command === 'play') this.unpublishSignalled = false;
      if (settled.outcome === 'refused') this.log?.warn({ code, level }, `rtmp client ${settled.command} refused`);
      return;
    }
    if (this.role === 'playing') {
      if (code === 'NetStream.Play.UnpublishNotify' || code === 'NetStream.Play.Stop') this.signalUnpublish();
      else if (code === 'NetStream.Play.PublishNotify' || code === 'NetStream.Play.Start')
        this.unpublishSignalled = false;
    } else if (level === 'error') {
      this.log?.warn({ code }, 'rtmp client error status from the server');
    }
  }

  private signalUnpublish(): void {
    if (this.unpublishSignalled) return;
    this.unpublishSignalled = true;
    this.log?.info('rtmp client played stream unpublished');
    this.emit('unpublish');
  }

  private deliver(kind: TagKind, streamId: number, timestampMs: number, payload: Buffer): void {
    if (this.onFrame === null || streamId !== this.streamId || this.role !== 'playing') return;
    this.onFrame({ kind, timestampMs, payload });
  }
}
