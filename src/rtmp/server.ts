/**
 * The RTMP ingest server: accepts connections (RTMP, and RTMPS when given `rtmps`), enforces
 * the connection limits, and runs one {@link ServerSession} per socket against the live hub
 * it is given ({@link StreamHub}).
 */
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { AddressGate, type AddressLimits } from './address-limits.js';
import { DEFAULT_CHUNK_PARSER_LIMITS } from './chunk-parser.js';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { ServerSession } from './server-session.js';
import { RtmpsListener, type RtmpsOptions } from './rtmps-listener.js';
import type { TlsCredentials } from './tls-credentials.js';
import type { PublishDecision, PublishRequest, SessionCloseInfo, SessionLimits } from './session-context.js';
import { DEFAULT_RTMP_PORT } from './rtmp-url.js';
import type { StreamHub } from './stream-hub.js';

export interface ServerLimits extends SessionLimits, AddressLimits {
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
  // Generous: glasses behind one carrier NAT share an address.
  maxConnectionsPerAddress: 100,
  maxNewConnectionsPerSecond: 20,
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
  /** Secrets publish tokens may be signed with; none: publish is open (local mode). */
  publishSecrets?: readonly string[];
  /** A second, RTMPS listener on the same host, feeding the same sessions; none: RTMP only. */
  rtmps?: RtmpsOptions;
}

export interface RtmpServerEvents {
  sessionClosed: [SessionCloseInfo];
  /** A connection refused before any session (a connection limit), by its code. */
  connectionRefused: [{ code: string; remote: string }];
}

export class RtmpServer extends EventEmitter<RtmpServerEvents> {
  readonly hub: StreamHub;
  readonly limits: ServerLimits;
  readonly appName: string;
  private readonly server: Server;
  private readonly rtmps: RtmpsListener | null;
  private readonly sessions = new Set<ServerSession>();
  private readonly log: Logger;
  private readonly host: string;
  private readonly port: number;
  private readonly playApps: readonly string[];
  private authorizePublish: ((request: PublishRequest) => Promise<PublishDecision>) | undefined;
  private readonly onPlayerFrameDropped: (() => void) | undefined;
  private readonly publishSecrets: readonly string[];
  private readonly addressGate: AddressGate;
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
    this.publishSecrets = options.publishSecrets ?? [];
    this.addressGate = new AddressGate(this.limits);
    this.server = createServer((socket) => {
      if (this.admit(socket)) this.startSession(socket, true);
    });
    this.server.on('error', (err) => this.log.error({ err }, 'rtmp server error'));
    this.rtmps = options.rtmps ? this.rtmpsListener(options.rtmps) : null;
  }

  private rtmpsListener(options: RtmpsOptions): RtmpsListener {
    return new RtmpsListener(
      {
        ...options,
        onHandshakeFailed: (code) => {
          this.countError(code);
          options.onHandshakeFailed?.(code);
        },
      },
      {
        host: this.host,
        // The TLS handshake gets the RTMP handshake's deadline; the RTMP one starts after it.
        handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
        maxConnections: this.limits.maxConnections,
        logger: this.log,
        // Admitted as TCP, before the TLS handshake: a TLS flood from one address uses its own share.
        admit: (raw) => {
          if (!this.admit(raw)) return false;
          const address = raw.remoteAddress ?? '?';
          raw.once('close', () => this.addressGate.release(address));
          return true;
        },
        onSecureConnection: (socket) => this.startSession(socket, false),
      },
    );
  }

  /** New RTMPS connections get these (a rotated certificate); live ones go on. Throws a TlsError if refused. */
  setTlsCredentials(credentials: Pick<TlsCredentials, 'cert' | 'key'>): void {
    if (this.rtmps === null) throw new RtmpError(RtmpErrorCode.INTERNAL, 'RTMPS is off: no TLS credentials to set');
    this.rtmps.setCredentials(credentials);
  }

  /** The RTMPS listener's address once it listens; null when RTMPS is off. */
  get rtmpsAddress(): AddressInfo | null {
    return this.rtmps?.address ?? null;
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
    if (this.rtmps !== null) {
      try {
        await this.rtmps.listen();
      } catch (err) {
        // Both or neither: a relay on one of its two ports would refuse every publisher set up for the other.
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
        throw err;
      }
    }
    return address;
  }

  /** Stop accepting connections; sessions already open go on (graceful drain). */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
    this.rtmps?.stopAccepting();
  }

  get listening(): boolean {
    return this.server.listening && (this.rtmps?.listening ?? true);
  }

  /** Stop accepting, end every session, and resolve once the listener is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    const rtmpsClosed = this.rtmps?.close();
    for (const session of [...this.sessions]) session.close(undefined, 'server shutting down');
    await Promise.all([closed, rtmpsClosed]);
    this.log.info('rtmp server closed');
  }

  /** The connection and per-address limits, at accept; a refused socket is destroyed and counted. */
  private admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '?';
    if (this.sessions.size >= this.limits.maxConnections) {
      this.refuse(socket, RtmpErrorCode.CONNECTION_LIMIT, `limit of ${this.limits.maxConnections} reached`, true);
      return false;
    }
    const refusal = this.addressGate.admit(address);
    if (refusal !== null) {
      this.refuse(socket, refusal.code, refusal.reason, this.addressGate.shouldLogRefusal(address));
      return false;
    }
    return true;
  }

  /** One session on an admitted socket; `releaseAddress` when its close frees the address's place (plain RTMP). */
  private startSession(socket: Socket, releaseAddress: boolean): void {
    const address = socket.remoteAddress ?? '?';
    this.stats.connectionsAccepted++;
    const session = new ServerSession(
      socket,
      {
        hub: this.hub,
        publishApps: [this.appName],
        playApps: this.playApps,
        limits: this.limits,
        logger: this.log,
        publishSecrets: this.publishSecrets,
        ...(this.authorizePublish ? { authorizePublish: this.authorizePublish } : {}),
        ...(this.onPlayerFrameDropped ? { onPlayerFrameDropped: this.onPlayerFrameDropped } : {}),
      },
      (info) => {
        this.sessions.delete(session);
        if (releaseAddress) this.addressGate.release(address);
        if (info.code) this.countError(info.code);
        this.emit('sessionClosed', info);
      },
    );
    this.sessions.add(session);
  }

  /** Refuse before any session: counted by code; logged unless `log` is false (a flood logs once a second). */
  private refuse(socket: Socket, code: string, reason: string, log: boolean): void {
    this.stats.connectionsRefused++;
    this.countError(code);
    this.emit('connectionRefused', { code, remote: socket.remoteAddress ?? '?' });
    if (log) this.log.warn({ code, remote: socket.remoteAddress, reason }, 'connection refused');
    socket.on('error', () => {});
    socket.destroy();
  }

  private countError(code: string): void {
    this.stats.sessionErrors.set(code, (this.stats.sessionErrors.get(code) ?? 0) + 1);
  }
}
