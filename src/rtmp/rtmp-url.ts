/**
 * RTMP URLs: `rtmp[s]://host[:port]/app/stream?query`. RTMP has no URL grammar of its own;
 * this follows what FFmpeg's and librtmp's clients accept: the first path segment is the
 * app (sent as tcUrl in connect), the rest is the stream name (sent in publish/play).
 */
import { isIP } from 'node:net';

/** §5.2 / IANA: the registered RTMP port. */
export const DEFAULT_RTMP_PORT = 1935;
/** RTMPS is RTMP inside TLS; CDNs (Facebook, YouTube, Twitch) serve it on 443. */
const DEFAULT_RTMPS_PORT = 443;

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
