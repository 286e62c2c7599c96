/**
 * The relay's HTTP API (`--api-port`, default 9997 as in the seed):
 *
 *   GET /healthz                       liveness: the process answers
 *   GET /readyz                        ready: RTMP listening, not draining, ffmpeg found (503 otherwise)
 *   GET /v3/config/get                 the seed's health path (its porter.yaml checks it): 200
 *   GET /metrics                       Prometheus text (prom-client)
 *   GET /v1/streams                    every stream: publisher, media, bitrate, GOP, mode, repairs, destination
 *   GET /v1/streams/{userId}/{streamId}
 *
 * With a token configured, /metrics and /v1/* need `Authorization: Bearer <token>`; the
 * health paths stay open for probes. Stream keys never appear (URLs are redacted).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Relay } from '../relay/relay.js';
import type { RtmpServer } from '../rtmp/server.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';

export interface ApiContext {
  readonly server: RtmpServer;
  readonly relay: Relay;
  readonly metrics: RelayMetrics;
  readonly ffmpegFound: boolean;
  readonly token: string | null;
  readonly logger: Logger;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export class ApiServer {
  private readonly http: Server;
  private readonly ctx: ApiContext;
  private readonly log: Logger;

  constructor(ctx: ApiContext) {
    this.ctx = ctx;
    this.log = ctx.logger.child({ component: 'api' });
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'api request failed');
        if (!res.headersSent) json(res, 500, { error: 'internal error' });
      });
    });
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const bound = (this.http.address() as { port: number }).port;
    this.log.info({ host, port: bound, token: this.ctx.token !== null }, 'api listening');
    return bound;
  }

  close(): Promise<void> {
    this.http.closeAllConnections?.();
    return new Promise((resolve) => this.http.close(() => resolve()));
  }

  /** Ready: RTMP listening, not draining, ffmpeg found. */
  readiness(): { ready: boolean; checks: Record<string, boolean> } {
    const checks = {
      rtmpListening: this.ctx.server.listening,
      notDraining: !this.ctx.relay.isDraining,
      ffmpegFound: this.ctx.ffmpegFound,
    };
    return { ready: Object.values(checks).every(Boolean), checks };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'method not allowed' });
      return;
    }
    if (path === '/healthz') {
      json(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      const r = this.readiness();
      json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ...r.checks });
      return;
    }
    if (path === '/v3/config/get') {
      // The seed (MediaMTX) health path: porter.yaml's check keeps working unchanged.
      json(res, 200, { status: 'ok', service: 'rinse' });
      return;
    }
    if (!authorized(req, this.ctx.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      json(res, 401, { error: 'unauthorized' });
      return;
    }
    if (path === '/metrics') {
      const text = await this.ctx.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.ctx.metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (path === '/v1/streams') {
      json(res, 200, { streams: this.ctx.relay.activeSessions.map((s) => s.describe()) });
      return;
    }
    const one = /^\/v1\/streams\/([^/]+)\/([^/]+)$/.exec(path);
    if (one) {
      let userId: string;
      let streamId: string;
      try {
        userId = decodeURIComponent(one[1] as string);
        streamId = decodeURIComponent(one[2] as string);
      } catch {
        json(res, 400, { error: 'bad path' });
        return;
      }
      const session = this.ctx.relay.activeSessions.find(
        (s) => s.path.userId === userId && s.path.streamId === streamId,
      );
      if (session === undefined) json(res, 404, { error: 'no such stream' });
      else json(res, 200, session.describe());
      return;
    }
    json(res, 404, { error: 'not found' });
  }
}
