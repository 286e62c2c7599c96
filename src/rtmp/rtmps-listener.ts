/**
 * The RTMPS ingest listener: TLS in front of the same RTMP sessions, so a publish token does
 * not cross the network in clear. A socket that completes the handshake is handed to the RTMP
 * server exactly as a plain one is; one that does not is closed by the handshake deadline and
 * counted by code. A TLS fault ends that connection only, never the process.
 */
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsCredentials } from './tls-credentials.js';
import { TlsError, TlsErrorCode, handshakeErrorCode } from './tls-errors.js';

/** The RTMPS port when RTMPS is on (the one RTMP-over-TLS publishers try after 1935). */
export const DEFAULT_RTMPS_PORT = 1936;

/** What a server needs to offer RTMPS. */
export interface RtmpsOptions {
  /** TCP port on the RTMP server's host; 0 picks a free one. */
  port: number;
  /** The first certificate and key, checked (`loadTlsCredentials`). */
  credentials: Pick<TlsCredentials, 'cert' | 'key'>;
  /** Told of each connection that failed its TLS handshake, by code. */
  onHandshakeFailed?: (code: TlsErrorCode) => void;
}

export interface RtmpsListenerContext {
  host: string;
  /** A client must finish the TLS handshake within this, ms; bytes trickling in do not extend it. */
  handshakeTimeoutMs: number;
  /** Open TLS connections, handshakes in progress included. */
  maxConnections: number;
  logger: Logger;
  /** Asked of each TCP connection before its TLS handshake; false: it was refused (and counted), it is closed. */
  admit?: (raw: Socket) => boolean;
  /** A socket whose handshake completed: from here on, an RTMP connection like any other. */
  onSecureConnection: (socket: TLSSocket) => void;
}

/** At most one handshake-failure line a second per code: a scanner on the port must not flood the log. */
const FAILURE_LOG_INTERVAL_MS = 1_000;

export class RtmpsListener {
  private readonly server: Server;
  private readonly log: Logger;
  /** Per code: when its last line was logged, and the failures since that were not. */
  private readonly failureLog = new Map<TlsErrorCode, { loggedAt: number; notLogged: number }>();
  /** TCP connections `admit` refused: their TLS socket's reset is not a handshake failure. */
  private readonly refused = new WeakSet<Socket>();

  constructor(
    private readonly options: RtmpsOptions,
    private readonly context: RtmpsListenerContext,
  ) {
    this.log = context.logger.child({ component: 'rtmps' });
    this.server = createServer(
      { cert: options.credentials.cert, key: options.credentials.key, handshakeTimeout: context.handshakeTimeoutMs },
      (socket) => context.onSecureConnection(socket),
    );
    this.server.maxConnections = context.maxConnections;
    // Before the TLS wrap (prepended): a refused connection never starts a handshake.
    this.server.prependListener('connection', (raw: Socket) => {
      if (context.admit === undefined || context.admit(raw)) return;
      this.refused.add(raw);
      raw.destroy();
    });
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) =>
      this.onClientError(err, socket),
    );
    this.server.on('error', (err) => this.log.error({ err }, 'rtmps server error'));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.context.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.address as AddressInfo;
    this.log.info({ host: address.address, port: address.port }, 'rtmps server listening');
    return address;
  }

  get address(): AddressInfo | null {
    return (this.server.address() as AddressInfo | null) ?? null;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** New connections get these; live ones keep the pair they shook hands with. */
  setCredentials(credentials: Pick<TlsCredentials, 'cert' | 'key'>): void {
    try {
      this.server.setSecureContext({ cert: credentials.cert, key: credentials.key });
    } catch (err) {
      throw new TlsError(TlsErrorCode.CONTEXT, `refused for TLS: ${(err as Error).message}`);
    }
  }

  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  /** Resolves once the listener is closed (the sessions are the RTMP server's to end). */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
  }

  private onClientError(err: NodeJS.ErrnoException, socket: TLSSocket): void {
    const remote = socket.remoteAddress;
    // Node only reports a handshake timeout: without this the silent client would stay connected.
    socket.destroy();
    // Node keeps the wrapped TCP socket as `_parent` (not public: if it goes, refusals count twice).
    const raw = (socket as unknown as { _parent?: Socket })._parent;
    if (raw !== undefined && this.refused.has(raw)) return;
    const code = handshakeErrorCode(err);
    this.options.onHandshakeFailed?.(code);
    const now = Date.now();
    const last = this.failureLog.get(code);
    if (last !== undefined && now - last.loggedAt < FAILURE_LOG_INTERVAL_MS) {
      last.notLogged++;
      return;
    }
    this.log.warn(
      { code, remote, reason: err.code ?? err.message, notLogged: last?.notLogged || undefined },
      'tls handshake failed',
    );
    this.failureLog.set(code, { loggedAt: now, notLogged: 0 });
  }
}
