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
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import {
  Amf0EcmaArray,
  Amf0TypedObject,
  decodeAmf0,
  encodeAmf0,
  type Amf0Object,
  type Amf0Value,
} from '../media/amf0.js';
import { ChunkParser, type ChunkParserLimits } from './chunk-parser.js';
import { ChunkWriter, type OutgoingMessage } from './chunk-writer.js';
import { CONTROL_CSID, setChunkSizeMessage, windowAckSizeMessage, type UserControl } from './control-messages.js';
import { RtmpError, RtmpErrorCode, asRtmpError } from './errors.js';
import { ProtocolControl } from './protocol-control.js';
import { ClientHandshake } from './handshake.js';
import { splitAggregate } from './aggregate.js';
import {
  ChunkStreamId,
  DEFAULT_OUT_CHUNK_SIZE,
  DEFAULT_WINDOW_ACK_BYTES,
  MessageType,
  UserControlEvent,
  type RtmpMessage,
} from './message-types.js';

/** §5.2 / IANA: the registered RTMP port. */
const DEFAULT_RTMP_PORT = 1935;
/** RTMPS is RTMP inside TLS; CDNs (Facebook, YouTube, Twitch) serve it on 443. */
const DEFAULT_RTMPS_PORT = 443;
/** Whole connect phase (TCP + TLS + handshake + connect _result) by default. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** After close() ends the socket, a server that never closes its side is cut off after this. */
const CLOSE_GRACE_MS = 2000;
/** Reused send buffer, in bytes: holds a 720p keyframe at a few Mbit/s; larger messages get their own. */
const SEND_BUFFER_BYTES = 128 * 1024;
const CSID_COMMAND = ChunkStreamId.COMMAND;
const CSID_AUDIO = ChunkStreamId.AUDIO;
const CSID_DATA = ChunkStreamId.DATA;
const CSID_VIDEO = ChunkStreamId.VIDEO;
/** §7.2.2.1 play Start: -2 = live if there is one, else recorded. */
const PLAY_START_LIVE_OR_RECORDED = -2;
/** §7.1.7 Set Buffer Length we ask for before play (FFmpeg's default client buffer). */
const PLAY_BUFFER_MS = 3000;
/** Our flashVer: an FMLE-style string so servers treat us as an encoder when we publish. */
const FLASH_VER = 'FMLE/3.0 (compatible; rinse)';
/** §7.2.1.1 connect capabilities and codec masks that FFmpeg's player sends (all common codecs). */
const CONNECT_CAPABILITIES = 15;
const CONNECT_AUDIO_CODECS = 4071;
const CONNECT_VIDEO_CODECS = 252;
/** SUPPORT_VID_CLIENT_SEEK: the only video function defined. */
const CONNECT_VIDEO_FUNCTION = 1;
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
// URLs

export interface RtmpUrl {
  protocol: 'rtmp:' | 'rtmps:';
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** 1935 for rtmp:, 443 for rtmps: unless the URL names one. */
  port: number;
  /** First path segment (with the query string when the URL has no stream name). */
  app: string;
  /** The rest of the path after the app, with the query string kept; '' when absent. */
  streamName: string;
  /** `protocol//host[:port]/app` as sent in connect. */
  tcUrl: string;
}

const URL_SHAPE = /^(rtmps?:)\/\/([^/?#]*)(.*)$/i;

/** rtmp://host[:port]/app/stream/name?query -> app = first path segment, streamName = the rest. */
export function parseRtmpUrl(url: string): RtmpUrl {
  const m = URL_SHAPE.exec(url.trim());
  if (m === null) throw new Error('not an RTMP URL: expected rtmp://host[:port]/app/stream or rtmps://...');
  const protocol = (m[1] as string).toLowerCase() as 'rtmp:' | 'rtmps:';
  const authority = m[2] as string;
  let rest = m[3] as string;
  if (authority.includes('@')) throw new Error('RTMP URL with user credentials is not supported');
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);

  let host: string;
  let hostPart: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close === -1) throw new Error('RTMP URL has an unterminated IPv6 address');
    host = authority.slice(1, close);
    hostPart = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after.length > 0) {
      if (!after.startsWith(':')) throw new Error('RTMP URL has junk after the IPv6 address');
      portText = after.slice(1);
    }
    if (isIP(host) !== 6) throw new Error('RTMP URL has an invalid IPv6 address');
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon === -1 ? authority : authority.slice(0, colon);
    hostPart = host;
    if (colon !== -1) portText = authority.slice(colon + 1);
  }
  if (host.length === 0) throw new Error('RTMP URL has no host');
  let port = protocol === 'rtmps:' ? DEFAULT_RTMPS_PORT : DEFAULT_RTMP_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new Error('RTMP URL has an invalid port');
    }
    port = Number(portText);
    hostPart = `${hostPart}:${port}`;
  }

  // rest: "" | "/app" | "/app?query" | "/app/stream/name?query"
  const path = rest.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const query = path.indexOf('?');
  let app: string;
  let streamName: string;
  if (slash === -1 || (query !== -1 && query < slash)) {
    app = path;
    streamName = '';
  } else {
    app = path.slice(0, slash);
    streamName = path.slice(slash + 1);
  }
  if (app.length === 0 || app.startsWith('?')) throw new Error('RTMP URL has no app (expected rtmp://host/app/stream)');
  return { protocol, host, port, app, streamName, tcUrl: `${protocol}//${hostPart}/${app}` };
}

/**
 * For logs and error messages: scheme, host, port and app stay; the stream name (the key)
 * becomes `***`, and so does any query string. Never returns any part of an unparsable URL.
 */
export function redactUrl(url: string): string {
  let parsed: RtmpUrl;
  try {
    parsed = parseRtmpUrl(url);
  } catch {
    return '[invalid RTMP URL]';
  }
  // tcUrl is `protocol//host[:port]/app`, with the port only when the URL named one.
  const origin = parsed.tcUrl.slice(0, parsed.tcUrl.length - parsed.app.length - 1);
  const q = parsed.app.indexOf('?');
  const app = q === -1 ? parsed.app : `${parsed.app.slice(0, q)}?***`;
  return `${origin}/${app}${parsed.streamName.length > 0 ? '/***' : ''}`;
}

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
  /** rtmps: only. SNI defaults to the URL's host (unless it is an IP address). */
  tls?: { servername?: string; rejectUnauthorized?: boolean; ca?: string | Buffer };
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

interface PendingCall {
  readonly command: string;
  resolve(values: Amf0Value[]): void;
  reject(err: Error): void;
}

interface StatusWaiter {
  readonly command: 'play' | 'publish';
  resolve(): void;
  reject(err: Error): void;
}

type Role = 'none' | 'publishing' | 'playing';

function infoObject(value: Amf0Value): Record<string, Amf0Value> | undefined {
  if (value instanceof Amf0EcmaArray) return value.entries;
  if (value instanceof Amf0TypedObject) return value.properties;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return undefined;
  if (!Object.getPrototypeOf(value) || Object.getPrototypeOf(value) === Object.prototype) return value as Amf0Object;
  return undefined;
}

function text(value: Amf0Value | undefined): string {
  return typeof value === 'string' ? value.slice(0, 256) : '';
}

export class RtmpClient extends EventEmitter<RtmpClientEvents> {
  private readonly url: RtmpUrl;
  private readonly redacted: string;
  private readonly log: Logger | undefined;
  private readonly connectTimeoutMs: number;
  private readonly outChunkSize: number;
  private readonly windowAckBytes: number;
  private readonly socket: Socket;
  private readonly handshake: ClientHandshake;
  private readonly parser: ChunkParser;
  private readonly writer = new ChunkWriter();
  /**
   * Reused for each message written while the socket has nothing queued. Per-message
   * buffers made V8 collect the whole heap several times a second on a busy relay (their
   * bytes count toward its collection trigger); see the README's benchmark notes.
   */
  private readonly sendBuffer = Buffer.allocUnsafe(SEND_BUFFER_BYTES);
  private readonly pending = new Map<number, PendingCall>();
  private readonly socketClosed: Promise<void>;
  private nextTransactionId = 1;
  private statusWaiter: StatusWaiter | null = null;
  private role: Role = 'none';
  private busy = false;
  private streamId: number | null = null;
  /** The connect command, encoded at open() and sent once the handshake is done. */
  private connectCommand: Buffer | null = null;
  private onFrame: ((frame: PlayedFrame) => void) | null = null;
  private unpublishSignalled = false;
  private readonly control = new ProtocolControl(
    (csid, message) => this.send(csid, message),
    (uc) => this.onUserControl(uc),
  );
  private connectTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
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
    this.handshake = new ClientHandshake({ send: (bytes) => this.writeRaw(bytes) });
    this.parser = new ChunkParser({ limits: CLIENT_PARSER_LIMITS, onMessage: (m) => this.onMessage(m) });

    if (url.protocol === 'rtmps:') {
      const servername = options.tls?.servername ?? (isIP(url.host) === 0 ? url.host : undefined);
      this.socket = tlsConnect({
        host: url.host,
        port: url.port,
        ...(servername !== undefined ? { servername } : {}),
        rejectUnauthorized: options.tls?.rejectUnauthorized ?? true,
        ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
      });
      this.socket.once('secureConnect', () => this.onConnected());
    } else {
      this.socket = netConnect({ host: url.host, port: url.port });
      this.socket.once('connect', () => this.onConnected());
    }
    this.socketClosed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: Error) => this.fail(err));
    this.socket.on('close', () => this.onSocketClose());
    this.socket.on('drain', () => this.emit('drain'));
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
    return this.socket.writableLength;
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
    const started = this.waitForStatus('play');
    const setBuffer = Buffer.alloc(10);
    setBuffer.writeUInt16BE(UserControlEvent.SET_BUFFER_LENGTH, 0);
    setBuffer.writeUInt32BE(streamId, 2);
    setBuffer.writeUInt32BE(PLAY_BUFFER_MS, 6);
    this.send(CONTROL_CSID, { typeId: MessageType.USER_CONTROL, streamId: 0, timestampMs: 0, payload: setBuffer });
    this.sendCommand(
      streamId,
      'play',
      this.nextTransactionId++,
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
    this.sendCommand(0, 'releaseStream', this.nextTransactionId++, null, name);
    this.sendCommand(0, 'FCPublish', this.nextTransactionId++, null, name);
    const streamId = await this.createStream();
    this.streamId = streamId;
    const started = this.waitForStatus('publish');
    this.sendCommand(streamId, 'publish', this.nextTransactionId++, null, name, 'live');
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
    const csid = kind === 'audio' ? CSID_AUDIO : kind === 'video' ? CSID_VIDEO : CSID_DATA;
    const typeId = kind === 'audio' ? MessageType.AUDIO : kind === 'video' ? MessageType.VIDEO : MessageType.DATA_AMF0;
    return this.send(csid, { typeId, streamId: this.streamId, timestampMs, payload });
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
      if (this.streamId !== null && this.handshake.done) {
        if (this.role === 'publishing') {
          this.sendCommand(0, 'FCUnpublish', this.nextTransactionId++, null, this.url.streamName);
        }
        this.sendCommand(0, 'deleteStream', this.nextTransactionId++, null, this.streamId);
      }
      this.socket.end();
      this.graceTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
      this.graceTimer.unref();
    }
    await this.socketClosed;
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
    const command: Amf0Object = {
      app: this.url.app,
      type: 'nonprivate',
      flashVer: FLASH_VER,
      tcUrl: this.url.tcUrl,
      fpad: false,
      capabilities: CONNECT_CAPABILITIES,
      audioCodecs: CONNECT_AUDIO_CODECS,
      videoCodecs: CONNECT_VIDEO_CODECS,
      videoFunction: CONNECT_VIDEO_FUNCTION,
      objectEncoding: 0,
    };
    // Registered now, sent when the handshake is done (see onHandshakeDone).
    const transactionId = this.nextTransactionId++;
    const answer = this.expectResult('connect', transactionId);
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
        this.send(CONTROL_CSID, setChunkSizeMessage(this.outChunkSize));
        this.writer.chunkSize = this.outChunkSize;
        this.log?.info({ mode: this.handshake.mode }, 'rtmp client connected');
      },
      (err: Error) => {
        // The caller never gets this client: do not leave its socket open.
        this.fail(err);
        throw err;
      },
    );
  }

  private onConnected(): void {
    if (this.ended) return;
    this.socket.setNoDelay(true);
    try {
      this.handshake.start();
    } catch (err) {
      this.fail(err);
    }
  }

  private onHandshakeDone(): void {
    this.log?.debug({ mode: this.handshake.mode }, 'rtmp client handshake done');
    const payload = this.connectCommand;
    this.connectCommand = null;
    if (payload) this.send(CSID_COMMAND, { typeId: MessageType.COMMAND_AMF0, streamId: 0, timestampMs: 0, payload });
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
    const transactionId = this.nextTransactionId++;
    const answer = this.expectResult('createStream', transactionId);
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

  /** A promise for the _result (resolve) or _error (reject) of one transaction. */
  private expectResult(command: string, transactionId: number): Promise<Amf0Value[]> {
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(this.endedError(command));
        return;
      }
      this.pending.set(transactionId, { command, resolve, reject });
    });
  }

  private waitForStatus(command: 'play' | 'publish'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ended) {
        reject(this.endedError(command));
        return;
      }
      this.statusWaiter = { command, resolve, reject };
    });
  }

  private endedError(command: string): Error {
    return this.closing
      ? new Error(`RtmpClient closed before the server answered ${command}`)
      : new RtmpError(RtmpErrorCode.PEER_REJECTED, `connection ended before the server answered ${command}`);
  }

  // -------------------------------------------------------------------------
  // Socket

  private writeRaw(bytes: Buffer): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    return this.socket.write(bytes);
  }

  private send(csid: number, message: OutgoingMessage): boolean {
    // Nothing queued means every earlier write reached the kernel (or TLS) whole, so the send
    // buffer is free again: most messages then need no allocation of their own.
    const into = this.socket.writableLength === 0 ? this.sendBuffer : undefined;
    return this.writeRaw(this.writer.write(csid, message, into));
  }

  private sendCommand(streamId: number, ...values: Amf0Value[]): void {
    this.send(CSID_COMMAND, {
      typeId: MessageType.COMMAND_AMF0,
      streamId,
      timestampMs: 0,
      payload: encodeAmf0(...values),
    });
  }

  private onData(data: Buffer): void {
    if (this.ended) return;
    try {
      if (!this.handshake.done) {
        const rest = this.handshake.push(data);
        if (rest === undefined) return;
        this.onHandshakeDone();
        if (rest.length > 0) this.parser.push(rest);
      } else {
        this.parser.push(data);
      }
      if (!this.ended) this.control.acknowledge(this.parser.bytesReceived);
    } catch (err) {
      this.fail(err);
    }
  }

  private onEnd(): void {
    if (this.ended) return;
    if (this.closing) {
      this.finish(null);
    } else if (!this.handshake.done) {
      this.fail(
        new RtmpError(RtmpErrorCode.HANDSHAKE_TRUNCATED, `${this.redacted} closed the connection during the handshake`),
      );
    } else if (this.parser.midMessage) {
      this.fail(
        new RtmpError(RtmpErrorCode.TRUNCATED, `${this.redacted} closed the connection in the middle of a message`),
      );
    } else {
      this.finish(null);
    }
  }

  private onSocketClose(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    if (this.ended) return;
    if (!this.closing && !this.handshake.done) {
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
    if (!this.ended) this.socket.destroy();
    this.finish(error);
  }

  private finish(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(err ?? this.endedError(call.command));
    const waiter = this.statusWaiter;
    this.statusWaiter = null;
    if (waiter) waiter.reject(err ?? this.endedError(waiter.command));
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

  private onMessage(message: RtmpMessage): void {
    if (this.ended) return;
    if (this.control.handle(message)) return;
    switch (message.typeId) {
      case MessageType.SHARED_OBJECT_AMF0:
        return; // nothing for us to do
      case MessageType.COMMAND_AMF0:
        return this.onCommand(message);
      case MessageType.AUDIO:
      case MessageType.VIDEO:
      case MessageType.DATA_AMF0:
        return this.deliver(message.streamId, message.typeId, message.timestampMs, message.payload);
      case MessageType.AGGREGATE:
        return this.onAggregate(message);
      case MessageType.COMMAND_AMF3:
      case MessageType.DATA_AMF3:
      case MessageType.SHARED_OBJECT_AMF3:
        throw new RtmpError(
          RtmpErrorCode.AMF3_UNSUPPORTED,
          `AMF3-encoded message (type ${message.typeId}) from the server`,
        );
      default:
        throw new RtmpError(RtmpErrorCode.MESSAGE_TYPE, `unexpected message type ${message.typeId}`);
    }
  }

  private onUserControl(uc: UserControl): void {
    if (uc.event === UserControlEvent.STREAM_EOF && this.role === 'playing' && uc.value === this.streamId) {
      this.signalUnpublish();
    }
  }

  private onCommand(message: RtmpMessage): void {
    const values = decodeAmf0(message.payload);
    const [name, txn] = values;
    if (typeof name !== 'string' || name.length === 0) {
      throw new RtmpError(RtmpErrorCode.COMMAND_INVALID, 'command message from the server without a command name');
    }
    const transactionId = typeof txn === 'number' ? txn : 0;
    switch (name) {
      case '_result':
      case '_error': {
        const call = this.pending.get(transactionId);
        if (call === undefined) return; // releaseStream, FCPublish, publish...: answers we do not wait for
        this.pending.delete(transactionId);
        if (name === '_result') {
          call.resolve(values);
        } else {
          const info = infoObject(values[3] ?? null);
          call.reject(
            new RtmpError(
              RtmpErrorCode.PEER_REJECTED,
              `${call.command} refused: ${text(info?.code) || 'no code'}: ${text(info?.description)}`,
            ),
          );
        }
        return;
      }
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
    const waiter = this.statusWaiter;
    if (waiter !== null) {
      const wanted = waiter.command === 'play' ? 'NetStream.Play.Start' : 'NetStream.Publish.Start';
      if (code === wanted) {
        this.statusWaiter = null;
        if (waiter.command === 'play') this.unpublishSignalled = false;
        waiter.resolve();
      } else if (level === 'error' || /\.(StreamNotFound|Failed|BadName)$/.test(code)) {
        this.statusWaiter = null;
        this.log?.warn({ code, level }, `rtmp client ${waiter.command} refused`);
        waiter.reject(
          new RtmpError(
            RtmpErrorCode.PEER_REJECTED,
            `${waiter.command} refused: ${code || 'no code'}: ${text(info.description)}`,
          ),
        );
      }
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

  private deliver(streamId: number, typeId: number, timestampMs: number, payload: Buffer): void {
    if (this.onFrame === null || streamId !== this.streamId || this.role !== 'playing') return;
    const kind = typeId === MessageType.AUDIO ? 'audio' : typeId === MessageType.VIDEO ? 'video' : 'data';
    this.onFrame({ kind, timestampMs, payload });
  }

  /** §7.1.6: aggregate messages carry several media/data sub-messages. */
  private onAggregate(message: RtmpMessage): void {
    for (const sub of splitAggregate(message)) {
      if (
        sub.typeId === MessageType.AUDIO ||
        sub.typeId === MessageType.VIDEO ||
        sub.typeId === MessageType.DATA_AMF0
      ) {
        this.deliver(sub.streamId, sub.typeId, sub.timestampMs, sub.payload);
      }
    }
  }
}
