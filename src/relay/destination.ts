/**
 * Where a published stream goes, decided once per publish before any media is accepted:
 *
 * - cloud lookup (the seed's contract): GET {cloudApiUrl}/api/relay/cf-url/{userId}/{streamId}
 *   with `Authorization: Bearer {token}` -> {"url": "rtmps://.../live/<key>"}; 404 rejects the
 *   publish; timeouts, network errors and 5xx are retried; answers are cached briefly;
 * - a URL template with {userId}, {streamId} and {path} placeholders (no placeholder: every
 *   stream goes to that one URL);
 * - local mode (nothing configured): the cleaned stream is served for play at
 *   clean/{userId}/{streamId} and recorded to a file.
 *
 * Destination URLs carry stream keys: they are only ever logged through redactUrl().
 */
import { parseRtmpUrl } from '../rtmp/rtmp-url.js';
import type { StreamPath } from '../rtmp/stream-path.js';

export type Destination = { kind: 'rtmp'; url: string } | { kind: 'local'; playPath: string };

export type DestinationResult = { ok: true; destination: Destination } | { ok: false; reason: string };

export interface CloudLookupOptions {
  /** Base URL of the cloud API, e.g. https://api.example.com (no trailing /api). */
  baseUrl: string;
  /** Sent as a bearer token; never logged. */
  token?: string;
  /** Per attempt, in ms. */
  timeoutMs: number;
  /** Attempts for timeouts, network errors and 5xx answers (404 and other 4xx are final). */
  attempts: number;
  /** Wait before the second attempt, doubled for each further one, in ms. */
  retryDelayMs: number;
  /** How long a found URL is reused for the same path, in ms (0: never). */
  cacheMs: number;
}

export const DEFAULT_CLOUD_LOOKUP: Omit<CloudLookupOptions, 'baseUrl'> = {
  timeoutMs: 3000,
  attempts: 3,
  retryDelayMs: 200,
  cacheMs: 30_000,
};

/** App under which local mode serves cleaned streams for play. */
export const LOCAL_PLAY_APP = 'clean';

export interface DestinationResolver {
  readonly mode: 'cloud' | 'template' | 'local';
  resolve(path: StreamPath): Promise<DestinationResult>;
}

function checkedRtmpUrl(url: string): string {
  parseRtmpUrl(url); // throws on anything that is not rtmp:// or rtmps:// with app and name
  return url;
}

export class TemplateDestination implements DestinationResolver {
  readonly mode = 'template';
  private readonly template: string;

  constructor(template: string) {
    // Validate the shape with sample values so a typo fails at start, not at the first publish.
    checkedRtmpUrl(fill(template, { app: 'live', userId: 'u', streamId: 's', path: 'live/u/s' }));
    this.template = template;
  }

  resolve(path: StreamPath): Promise<DestinationResult> {
    return Promise.resolve({ ok: true, destination: { kind: 'rtmp', url: fill(this.template, path) } });
  }
}

function fill(template: string, path: StreamPath): string {
  return template
    .replaceAll('{userId}', encodeURIComponent(path.userId))
    .replaceAll('{streamId}', encodeURIComponent(path.streamId))
    .replaceAll('{path}', `${encodeURIComponent(path.userId)}/${encodeURIComponent(path.streamId)}`);
}

export class LocalDestination implements DestinationResolver {
  readonly mode = 'local';

  resolve(path: StreamPath): Promise<DestinationResult> {
    return Promise.resolve({
      ok: true,
      destination: { kind: 'local', playPath: `${LOCAL_PLAY_APP}/${path.userId}/${path.streamId}` },
    });
  }
}

class LookupError extends Error {
  constructor(
    message: string,
    readonly final: boolean,
  ) {
    super(message);
  }
}

export class CloudLookupDestination implements DestinationResolver {
  readonly mode = 'cloud';
  private readonly options: CloudLookupOptions;
  private readonly cache = new Map<string, { url: string; untilMs: number }>();
  /** Counters for the metrics API. */
  readonly stats = { lookups: 0, cacheHits: 0, notFound: 0, failures: 0, retries: 0 };

  constructor(options: Partial<CloudLookupOptions> & { baseUrl: string }) {
    this.options = { ...DEFAULT_CLOUD_LOOKUP, ...options };
    const base = new URL(this.options.baseUrl); // throws on a malformed URL
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new Error(`cloud API URL must be http(s), got ${base.protocol}`);
  }

  async resolve(path: StreamPath): Promise<DestinationResult> {
    const key = `${path.userId}/${path.streamId}`;
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.untilMs > Date.now()) {
      this.stats.cacheHits++;
      return { ok: true, destination: { kind: 'rtmp', url: cached.url } };
    }
    this.stats.lookups++;
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}/api/relay/cf-url/${encodeURIComponent(path.userId)}/${encodeURIComponent(path.streamId)}`;
    let lastError = 'no attempt made';
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      if (attempt > 1) {
        this.stats.retries++;
        await delay(this.options.retryDelayMs * 2 ** (attempt - 2));
      }
      try {
        const found = await this.fetchOnce(url);
        if (this.options.cacheMs > 0) this.cache.set(key, { url: found, untilMs: Date.now() + this.options.cacheMs });
        return { ok: true, destination: { kind: 'rtmp', url: found } };
      } catch (err) {
        if (!(err instanceof LookupError)) throw err;
        lastError = err.message;
        if (err.final) {
          if (err.message.startsWith('404')) this.stats.notFound++;
          else this.stats.failures++;
          return { ok: false, reason: `destination lookup: ${err.message}` };
        }
      }
    }
    this.stats.failures++;
    return { ok: false, reason: `destination lookup failed after ${this.options.attempts} attempts: ${lastError}` };
  }

  private async fetchOnce(url: string): Promise<string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      const name = (err as Error).name;
      throw new LookupError(
        name === 'TimeoutError'
          ? `no answer within ${this.options.timeoutMs} ms`
          : `request failed (${(err as Error).message})`,
        false,
      );
    }
    if (response.status === 404) throw new LookupError('404: stream not known to the cloud', true);
    if (response.status >= 500) throw new LookupError(`${response.status} from the cloud API`, false);
    if (response.status !== 200) throw new LookupError(`${response.status} from the cloud API`, true);
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      throw new LookupError('answer is not JSON', true);
    }
    const found = (body as { url?: unknown } | null)?.url;
    if (typeof found !== 'string') throw new LookupError('answer has no "url" string', true);
    try {
      return checkedRtmpUrl(found);
    } catch {
      // Not the URL itself in the message: it may hold a key.
      throw new LookupError('answer "url" is not an rtmp:// or rtmps:// URL with app and stream key', true);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
