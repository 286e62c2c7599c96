/**
 * The RTMP ingest server: accepts connections, enforces the connection limit, and runs
 * one {@link ServerSession} per socket against the live hub it is given ({@link StreamHub}).
 */
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { DEFAULT_CHUNK_PARSER_LIMITS } from './chunk-parser.js';
import { RtmpErrorCode } from './errors.js';
import { ServerSession } from './server-session.js';
import type { PublishDecision, PublishRequest, SessionCloseInfo, SessionLimits } from './session-context.js';
import { DEFAULT_RTMP_PORT } from './rtmp-url.js';
import type { StreamHub } from './stream-hub.js';

export interface ServerLimits extends SessionLimits {
  /** Concurrent connections; further ones are refused at once. */
  maxConnections: number;
}

/** Every interface: the glasses reach the relay from outside. */
export const DEFAULT_HOST = '0.0.0.0';
/** The app of publish paths, `live/{userId}/{streamId}` as the cloud hands them out. */
export const DEFAULT_APP = 'live';

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  ...DEFAULT_CHUNK_PARSER_LIMITS,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  publishTimeoutMs: 10_000,
  maxStreamsPerSession: 8,
  maxOutboundBytes: 8 * 1024 * 1024,
  maxConnections: 1000,
};

export interface RtmpServerOptions {
  /** Interface to bind; 127.0.0.1 in tests. */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  /** App name of publish paths `{app}/{userId}/{streamId}`. */
  appName?: string;
  /** Extra apps that may only be played (not published). */
  playOnlyApps?: readonly string[];
  limits?: Partial<ServerLimits>;
  /** Where sessions publish and play (the live hub). */
  hub: StreamHub;
  logger: Logger;
  /** Asked before each publish is accepted (the relay's destination lookup). */
  authorizePublish?: (request: PublishRequest) => Promise<PublishDecision>;
  /** Told each time a player's frame is dropped because the player cannot keep up. */
  onPlayerFrameDropped?: () => void;
}

export interface RtmpServerEvents {
  sessionClosed: [SessionCloseInfo];
}

export class RtmpServer extends EventEmitter<RtmpServerEvents> {
  readonly hub: StreamHub;
  readonly limits: ServerLimits;
  readonly appName: string;
  private readonly server: Server;
  private readonly sessions = new Set<ServerSession>();
  private readonly log: Logger;
  private readonly host: string;
  private readonly port: number;
  private readonly playApps: readonly string[];
  private authorizePublish: ((request: PublishRequest) => Promise<PublishDecision>) | undefined;
  private readonly onPlayerFrameDropped: (() => void) | undefined;
  /** Lifetime counters. */
  readonly stats = { connectionsAccepted: 0, connectionsRefused: 0, sessionErrors: new Map<string, number>() };

  constructor(options: RtmpServerOptions) {
    super();
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.appName = options.appName ?? DEFAULT_APP;
    this.playApps = [this.appName, ...(options.playOnlyApps ?? [])];
    this.host = options.host ?? DEFAULT_HOST;
    this.port = options.port ?? DEFAULT_RTMP_PORT;
    this.log = options.logger.child({ component: 'rtmp' });
    this.hub = options.hub;
    this.authorizePublish = options.authorizePublish;
    this.onPlayerFrameDropped = options.onPlayerFrameDropped;
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'rtmp server error'));
  }

  /** Set the publish hook after construction (the relay is built after the server it reports on). */
  setAuthorizePublish(hook: (request: PublishRequest) => Promise<PublishDecision>): void {
    this.authorizePublish = hook;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Start listening; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.log.info({ host: address.address, port: address.port, rtmpApp: this.appName }, 'rtmp server listening');
    return address;
  }

  /** Stop accepting connections; sessions already open go on (graceful drain). */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** Stop accepting, end every session, and resolve once the listener is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    for (const session of [...this.sessions]) session.close(undefined, 'server shutting down');
    await closed;
    this.log.info('rtmp server closed');
  }

  private onConnection(socket: Socket): void {
    if (this.sessions.size >= this.limits.maxConnections) {
      this.stats.connectionsRefused++;
      this.countError(RtmpErrorCode.CONNECTION_LIMIT);
      this.log.warn(
        { code: RtmpErrorCode.CONNECTION_LIMIT, remote: socket.remoteAddress, limit: this.limits.maxConnections },
        'connection refused: limit reached',
      );
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.stats.connectionsAccepted++;
    const session = new ServerSession(
      socket,
      {
        hub: this.hub,
        publishApps: [this.appName],
        playApps: this.playApps,
        limits: this.limits,
        logger: this.log,
        ...(this.authorizePublish ? { authorizePublish: this.authorizePublish } : {}),
        ...(this.onPlayerFrameDropped ? { onPlayerFrameDropped: this.onPlayerFrameDropped } : {}),
      },
      (info) => {
        this.sessions.delete(session);
        if (info.code) this.countError(info.code);
        this.emit('sessionClosed', info);
      },
    );
    this.sessions.add(session);
  }

  private countError(code: string): void {
    this.stats.sessionErrors.set(code, (this.stats.sessionErrors.get(code) ?? 0) + 1);
  }
}
