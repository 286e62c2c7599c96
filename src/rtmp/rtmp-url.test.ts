import { describe, expect, it } from 'vitest';
import { parseRtmpUrl, redactUrl } from './rtmp-url.js';

describe('parseRtmpUrl', () => {
  it('splits app (first segment) and stream name (the rest), default port 1935', () => {
    expect(parseRtmpUrl('rtmp://example.com/live/u1/s1')).toEqual({
      protocol: 'rtmp:',
      host: 'example.com',
      port: 1935,
      app: 'live',
      streamName: 'u1/s1',
      tcUrl: 'rtmp://example.com/live',
    });
  });

  it('keeps an explicit port in tcUrl', () => {
    const u = parseRtmpUrl('rtmp://127.0.0.1:19350/live/key');
    expect(u.host).toBe('127.0.0.1');
    expect(u.port).toBe(19350);
    expect(u.app).toBe('live');
    expect(u.streamName).toBe('key');
    expect(u.tcUrl).toBe('rtmp://127.0.0.1:19350/live');
  });

  it('defaults rtmps: to port 443', () => {
    const u = parseRtmpUrl('rtmps://live-api-s.facebook.com/rtmp/FB-123-0-Abc');
    expect(u.protocol).toBe('rtmps:');
    expect(u.port).toBe(443);
    expect(u.app).toBe('rtmp');
    expect(u.streamName).toBe('FB-123-0-Abc');
    expect(u.tcUrl).toBe('rtmps://live-api-s.facebook.com/rtmp');
    expect(parseRtmpUrl('RTMPS://h:8443/app/k').port).toBe(8443);
  });

  it('keeps the query string with the stream name', () => {
    const u = parseRtmpUrl('rtmp://h/live/u1/s1?token=abc&x=1');
    expect(u.app).toBe('live');
    expect(u.streamName).toBe('u1/s1?token=abc&x=1');
    expect(u.tcUrl).toBe('rtmp://h/live');
  });

  it('accepts an app with no stream name (streamName "")', () => {
    expect(parseRtmpUrl('rtmp://h/live')).toMatchObject({ app: 'live', streamName: '', tcUrl: 'rtmp://h/live' });
    expect(parseRtmpUrl('rtmp://h/live/')).toMatchObject({ app: 'live', streamName: '' });
    expect(parseRtmpUrl('rtmp://h/live?auth=1')).toMatchObject({ app: 'live?auth=1', streamName: '' });
  });

  it('parses IPv6 literals', () => {
    const u = parseRtmpUrl('rtmp://[::1]:1936/live/a/b');
    expect(u.host).toBe('::1');
    expect(u.port).toBe(1936);
    expect(u.tcUrl).toBe('rtmp://[::1]:1936/live');
    expect(parseRtmpUrl('rtmp://[::1]/live/x').port).toBe(1935);
  });

  it('rejects bad URLs with a clear message', () => {
    expect(() => parseRtmpUrl('http://h/live/x')).toThrow(/not an RTMP URL/);
    expect(() => parseRtmpUrl('rtmp:///live/x')).toThrow(/no host/);
    expect(() => parseRtmpUrl('rtmp://h')).toThrow(/no app/);
    expect(() => parseRtmpUrl('rtmp://h/')).toThrow(/no app/);
    expect(() => parseRtmpUrl('rtmp://h:0/live/x')).toThrow(/invalid port/);
    expect(() => parseRtmpUrl('rtmp://h:70000/live/x')).toThrow(/invalid port/);
    expect(() => parseRtmpUrl('rtmp://h:abc/live/x')).toThrow(/invalid port/);
    expect(() => parseRtmpUrl('rtmp://[::1/live/x')).toThrow(/IPv6/);
    expect(() => parseRtmpUrl('rtmp://[nope]/live/x')).toThrow(/IPv6/);
    expect(() => parseRtmpUrl('rtmp://user:pw@h/live/x')).toThrow(/credentials/);
  });

  it('never echoes the URL (a key) in its error messages', () => {
    for (const bad of ['rtmp://h:99999/live/SECRETKEY', 'rtmpx://h/live/SECRETKEY', 'rtmp://u:SECRETKEY@h/live/x']) {
      expect(() => parseRtmpUrl(bad)).toThrow();
      try {
        parseRtmpUrl(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain('SECRETKEY');
      }
    }
  });
});

describe('redactUrl', () => {
  const cases: Array<[string, string]> = [
    ['rtmp://example.com/live/SECRETKEY', 'rtmp://example.com/live/***'],
    ['rtmp://example.com:1935/live/u1/SECRETKEY', 'rtmp://example.com:1935/live/***'],
    ['rtmps://a.rtmps.youtube.com/live2/SECRETKEY?backup=1', 'rtmps://a.rtmps.youtube.com/live2/***'],
    ['rtmp://[::1]:1936/live/SECRETKEY', 'rtmp://[::1]:1936/live/***'],
    ['rtmp://h/live?SECRETKEY=1', 'rtmp://h/live?***'],
    ['rtmp://h/live', 'rtmp://h/live'],
    ['not a url SECRETKEY', '[invalid RTMP URL]'],
    ['rtmp://user:SECRETKEY@h/live/x', '[invalid RTMP URL]'],
  ];
  for (const [url, expected] of cases) {
    it(`${expected}`, () => {
      const redacted = redactUrl(url);
      expect(redacted).toBe(expected);
      expect(redacted).not.toContain('SECRETKEY');
    });
  }
});
