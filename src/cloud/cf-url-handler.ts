/**
 * Cloud side, part 2: the answer to the relay's destination lookup,
 * `GET /api/relay/cf-url/:userId/:streamId` -> `{ "url": "rtmps://.../live/<key>" }`.
 *
 * Framework-agnostic: a `(req, res, next?)` function that works as a Node http request
 * listener and as Express middleware. It requires the bearer token (401 without it or with
 * a wrong one, compared in constant time), answers 404 when `lookup` knows no such stream,
 * 405 for methods other than GET/HEAD, and passes other paths to `next` (or 404s them).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Returns the ingest URL for a stream, or null when the stream is unknown. */
export type CfUrlLookup = (userId: string, streamId: string) => Promise<string | null> | string | null;

const ROUTE = /^\/api\/relay\/cf-url\/([^/?#]+)\/([^/?#]+)\/?(?:\?.*)?$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice('Bearer '.length));
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export function createCfUrlHandler(
  lookup: CfUrlLookup,
  options: { token: string },
): (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void {
  if (!options.token) throw new Error('createCfUrlHandler: a token is required');
  return (req, res, next) => {
    const match = ROUTE.exec(req.url ?? '');
    if (match === null) {
      if (next) next();
      else send(res, 404, { error: 'not found' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, { error: 'method not allowed' });
      return;
    }
    if (!tokenMatches(req.headers.authorization, options.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, { error: 'unauthorized' });
      return;
    }
    let userId: string;
    let streamId: string;
    try {
      userId = decodeURIComponent(match[1] as string);
      streamId = decodeURIComponent(match[2] as string);
    } catch {
      send(res, 400, { error: 'bad path' });
      return;
    }
    Promise.resolve()
      .then(() => lookup(userId, streamId))
      .then(
        (url) => (url === null ? send(res, 404, { error: 'unknown stream' }) : send(res, 200, { url })),
        (err: unknown) => {
          if (next) next(err);
          else send(res, 500, { error: 'lookup failed' });
        },
      );
  };
}
