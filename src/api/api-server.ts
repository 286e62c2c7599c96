/**
 * The relay's HTTP API (`--api-port`, default 9997 as in the seed):
 *
 *   GET /healthz                       liveness: the process answers
 *   GET /readyz                        ready: RTMP listening, not draining, ffmpeg found (503 otherwise)
 *   GET /v3/config/get                 the seed's health path (its porter.yaml checks it): 200
 *   GET /metrics                       Prometheus text (prom-client)
 *   GET /v1/streams                    every stream: publisher, media, bitrate, GOP, mode, repairs, destination
 *   GET /v1/streams/{userId}/{streamId}
 *   GET /v1/streams/{userId}/{streamId}/history?since=<epoch ms>   the last minutes, for the page
 *   GET /                              the live page (streams table, charts); its files under /ui/
 *
 * With a token configured, /metrics, /v1/* and the page need `Authorization: Bearer <token>`
 * (a browser opens the page as `/?token=...`); the health paths and the page's static files
 * (no data in them) stay open. Stream keys never appear (URLs are redacted).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Relay } from '../relay/relay.js';
import type { RtmpServer } from '../rtmp/server.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';
import { webAsset } from '../tools/web-assets.js';

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

/** The static file `name`, or false when there is none. */
function sendAsset(res: ServerResponse, name: string): boolean {
  const asset = webAsset(name);
  if (asset === null) return false;
  res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
  res.end(asset.body);
  return true;
}

/** A bearer token, or for the page (a browser navigating cannot send a header) `?token=`. */
function authorized(req: IncomingMessage, token: string | null, query: URLSearchParams | null = null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : (query?.get('token') ?? ''));
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
    const url = new URL(req.url ?? '/', 'http://api');
    const path = url.pathname;
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
    if (path.startsWith('/ui/') && path !== '/ui/live.html' && sendAsset(res, path.slice(4))) return;
    if (path === '/' || path === '/index.html') {
      if (!authorized(req, this.ctx.token, url.searchParams)) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('unauthorized: open this page as /?token=<the API token>\n');
        return;
      }
      sendAsset(res, 'live.html');
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
    const one = /^\/v1\/streams\/([^/]+)\/([^/]+?)(\/history)?$/.exec(path);
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
      else if (one[3] === undefined) json(res, 200, session.describe());
      else {
        const history = session.historySince(Number(url.searchParams.get('since') ?? 0) || 0);
        if (history === null) json(res, 404, { error: 'no history: metrics are off' });
        else json(res, 200, history);
      }
      return;
    }
    json(res, 404, { error: 'not found' });
  }
}
