/**
 * The cloud lookup against a stand-in HTTP API on 127.0.0.1: bearer token, 404 refuses,
 * 5xx and timeouts are retried, answers are cached briefly, malformed answers refuse the
 * publish without echoing the URL, and the URL template fills its placeholders.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudLookupDestination, LocalDestination, TemplateDestination } from '../src/relay/destination.js';
import { resolveStreamPath } from '../src/rtmp/stream-path.js';

const PATH = resolveStreamPath('live', 'user1/stream1', ['live'])!;
const KEY_URL = 'rtmps://live.example.com:443/live/secret-key-123';

let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

async function api(
  handler: (n: number, url: string, auth: string | undefined) => { status: number; body?: string; delayMs?: number },
): Promise<string> {
  let n = 0;
  server = createServer((req, res) => {
    const answer = handler(++n, req.url ?? '', req.headers.authorization);
    setTimeout(() => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body ?? '');
    }, answer.delayMs ?? 0);
  });
  await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${((server as Server).address() as { port: number }).port}`;
}

describe('CloudLookupDestination', () => {
  it('asks /api/relay/cf-url/{userId}/{streamId} with the bearer token and caches the answer', async () => {
    const seen: Array<[string, string | undefined]> = [];
    const base = await api((_, url, auth) => {
      seen.push([url, auth]);
      return { status: 200, body: JSON.stringify({ url: KEY_URL }) };
    });
    const lookup = new CloudLookupDestination({ baseUrl: base, token: 't0ken', cacheMs: 60_000 });
    expect(await lookup.resolve(PATH)).toEqual({ ok: true, destination: { kind: 'rtmp', url: KEY_URL } });
    expect(await lookup.resolve(PATH)).toEqual({ ok: true, destination: { kind: 'rtmp', url: KEY_URL } });
    expect(seen).toEqual([['/api/relay/cf-url/user1/stream1', 'Bearer t0ken']]);
    expect(lookup.stats).toMatchObject({ lookups: 1, cacheHits: 1 });
  });

  it('refuses on 404 at once, without retrying', async () => {
    let calls = 0;
    const base = await api(() => {
      calls++;
      return { status: 404 };
    });
    const result = await new CloudLookupDestination({ baseUrl: base, retryDelayMs: 10 }).resolve(PATH);
    expect(result).toEqual({ ok: false, reason: 'destination lookup: 404: stream not known to the cloud' });
    expect(calls).toBe(1);
  });

  it('retries 5xx and timeouts, then succeeds', async () => {
    const base = await api((n) =>
      n === 1
        ? { status: 503 }
        : n === 2
          ? { status: 200, body: '{}', delayMs: 500 }
          : { status: 200, body: JSON.stringify({ url: KEY_URL }) },
    );
    const lookup = new CloudLookupDestination({ baseUrl: base, timeoutMs: 150, retryDelayMs: 10, attempts: 3 });
    expect(await lookup.resolve(PATH)).toEqual({ ok: true, destination: { kind: 'rtmp', url: KEY_URL } });
    expect(lookup.stats.retries).toBe(2);
  });

  it('gives up after the attempts, saying why', async () => {
    const base = await api(() => ({ status: 500 }));
    const result = await new CloudLookupDestination({ baseUrl: base, retryDelayMs: 5, attempts: 2 }).resolve(PATH);
    expect(result).toEqual({ ok: false, reason: 'destination lookup failed after 2 attempts: 500 from the cloud API' });
  });

  it('refuses malformed answers without echoing the URL it got', async () => {
    const bad = ['not json', JSON.stringify({}), JSON.stringify({ url: 'http://example.com/live/secret-key-123' })];
    for (const body of bad) {
      const base = await api(() => ({ status: 200, body }));
      const result = await new CloudLookupDestination({ baseUrl: base }).resolve(PATH);
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain('secret-key-123');
      await new Promise<void>((r) => (server as Server).close(() => r()));
      server = null;
    }
  });
});

describe('TemplateDestination and LocalDestination', () => {
  it('fills {userId}, {streamId} and {path}; a URL without placeholders is used as is', async () => {
    expect(await new TemplateDestination('rtmps://live.cloudflare.com:443/live/{streamId}').resolve(PATH)).toEqual({
      ok: true,
      destination: { kind: 'rtmp', url: 'rtmps://live.cloudflare.com:443/live/stream1' },
    });
    expect(await new TemplateDestination('rtmp://h/app/{path}').resolve(PATH)).toMatchObject({
      destination: { url: 'rtmp://h/app/user1/stream1' },
    });
    expect(await new TemplateDestination('rtmp://h/app/{userId}-x').resolve(PATH)).toMatchObject({
      destination: { url: 'rtmp://h/app/user1-x' },
    });
    expect(await new TemplateDestination('rtmp://h/app/fixed').resolve(PATH)).toMatchObject({
      destination: { url: 'rtmp://h/app/fixed' },
    });
  });

  it('refuses a template that is not an rtmp(s) URL, at start', () => {
    expect(() => new TemplateDestination('http://h/app/{streamId}')).toThrow();
    expect(() => new TemplateDestination('rtmp://h')).toThrow();
  });

  it('local mode plays at clean/{userId}/{streamId}', async () => {
    expect(await new LocalDestination().resolve(PATH)).toEqual({
      ok: true,
      destination: { kind: 'local', playPath: 'clean/user1/stream1' },
    });
  });
});
