/**
 * What the client says and opens to connect: the TCP or TLS socket (RTMPS is RTMP inside
 * TLS, with SNI) and the §7.2.1.1 connect command object.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Amf0Object } from '../media/amf0.js';
import type { RtmpUrl } from './rtmp-url.js';

/** Our flashVer: an FMLE-style string so servers treat us as an encoder when we publish. */
const FLASH_VER = 'FMLE/3.0 (compatible; rinse)';
/** §7.2.1.1 connect capabilities and codec masks that FFmpeg's player sends (all common codecs). */
const CONNECT_CAPABILITIES = 15;
const CONNECT_AUDIO_CODECS = 4071;
const CONNECT_VIDEO_CODECS = 252;
/** SUPPORT_VID_CLIENT_SEEK: the only video function defined. */
const CONNECT_VIDEO_FUNCTION = 1;

export interface ClientTlsOptions {
  /** SNI; defaults to the URL's host unless it is an IP address. */
  servername?: string;
  rejectUnauthorized?: boolean;
  ca?: string | Buffer;
}

/** Open the socket for `url`; `onConnected` runs once TCP (and TLS, for rtmps:) is up. */
export function openClientSocket(url: RtmpUrl, tls: ClientTlsOptions | undefined, onConnected: () => void): Socket {
  if (url.protocol !== 'rtmps:') {
    const socket = netConnect({ host: url.host, port: url.port });
    socket.once('connect', onConnected);
    return socket;
  }
  const servername = tls?.servername ?? (isIP(url.host) === 0 ? url.host : undefined);
  const socket = tlsConnect({
    host: url.host,
    port: url.port,
    ...(servername !== undefined ? { servername } : {}),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
    ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
  });
  socket.once('secureConnect', onConnected);
  return socket;
}

/** The connect command object (AMF0 encoding, as FFmpeg's client sends it). */
export function connectCommandObject(url: RtmpUrl): Amf0Object {
  return {
    app: url.app,
    type: 'nonprivate',
    flashVer: FLASH_VER,
    tcUrl: url.tcUrl,
    fpad: false,
    capabilities: CONNECT_CAPABILITIES,
    audioCodecs: CONNECT_AUDIO_CODECS,
    videoCodecs: CONNECT_VIDEO_CODECS,
    videoFunction: CONNECT_VIDEO_FUNCTION,
    objectEncoding: 0,
  };
}
