/**
 * Every `rinse serve` setting, once: its config key, flag, env name, type, bounds, default and
 * help. The parser (`config.ts`), `rinse serve --help`, `rinse config check`, the example
 * config file and the README's options reference are all generated from this table
 * (`settings-docs.ts`; `npm run docs:settings` rewrites the files, `settings.test.ts` fails
 * when they drift).
 *
 * A default that a module owns is taken from that module's constant, never repeated here.
 */
import { DEFAULT_CLOUD_LOOKUP } from './relay/destination.js';
import { DEFAULT_RELAY_SESSION_OPTIONS } from './relay/relay-session.js';
import { DEFAULT_UPSTREAM_OPTIONS } from './relay/upstream.js';
import { DEFAULT_RTMP_PORT } from './rtmp/rtmp-url.js';
import { DEFAULT_RTMPS_PORT } from './rtmp/rtmps-listener.js';
import { DEFAULT_APP, DEFAULT_HOST, DEFAULT_SERVER_LIMITS, type ServerLimits } from './rtmp/server.js';
import { DEFAULT_MAX_TRANSCODES } from './relay/relay.js';
import { DEFAULT_LOG_LEVEL } from './log.js';
import { DEFAULT_LIVE_STREAM_OPTIONS } from './live/live-streams.js';
import { DEFAULT_TRANSCODE_SETTINGS } from './fallback/transcoder.js';
import { DEFAULT_FALLBACK_OPTIONS } from './fallback/fallback-switch.js';
import { DEFAULT_FIXER_OPTIONS, type FixerOptions } from './fixer/stream-fixer.js';

export type SettingSource = 'flag' | 'env' | 'config' | 'default';

/** The groups, in the order the docs list them; a note says what holds for the whole group. */
export const SETTING_GROUPS = {
  network: { title: 'network' },
  destination: {
    title: 'destination',
    note: 'target or cloudApiUrl, not both; neither: local mode, cleaned streams played at clean/{userId}/{streamId}',
  },
  access: {
    title: 'publish access',
    note: 'without a publish secret (local mode) anyone who knows a path may publish to it',
  },
  lifecycle: { title: 'stream lifecycle' },
  fixer: { title: 'fixer thresholds' },
  transcode: { title: 'ffmpeg fallback' },
  limits: { title: 'ingest limits' },
  api: { title: 'HTTP API' },
  logging: { title: 'logging' },
} as const satisfies Record<string, { title: string; note?: string }>;

export type SettingGroup = keyof typeof SETTING_GROUPS;

interface SettingBase {
  flag: string;
  /** Environment variable, or null: flag and config file only. */
  env: string | null;
  group: SettingGroup;
  /** Placeholder for the value in `--help` (`--rtmp-port N`). */
  arg: string;
  /** One line: what the setting does. */
  help: string;
  /** Shown instead of the default where the default is not a plain value ("host"). */
  defaultText?: string;
  /** A value for the example config file, for a setting without a default. */
  example?: string;
  /** Never printed (tokens). */
  secret?: boolean;
}

export interface IntSetting extends SettingBase {
  kind: 'int';
  default: number;
  /** Inclusive bounds (default 1 and 2^31-1). */
  min?: number;
  max?: number;
}

export interface StringSetting extends SettingBase {
  kind: 'string';
  /** null: not set unless given. */
  default: string | null;
  /** The only values accepted. */
  choices?: readonly string[];
}

export type SettingSpec = IntSetting | StringSetting;

export const INT_MIN = 1;
export const INT_MAX = 0x7fffffff;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const TRANSCODE_MODES = ['auto', 'always', 'never'] as const;
export const TRANSCODE_AUDIO_MODES = ['copy', 'aac'] as const;
export const RTMPS_MODES = ['off', 'on'] as const;
export const GAP_FILLER_MODES = ['on', 'off'] as const;

/** A fixer threshold as the relay runs it: its session options over the fixer's own defaults. */
function relayFixerDefault(key: 'targetKeyframeIntervalMs' | 'maxKeyframeIntervalMs' | 'reorderWindowMs'): number {
  return (DEFAULT_RELAY_SESSION_OPTIONS.fixer as Partial<FixerOptions>)[key] ?? DEFAULT_FIXER_OPTIONS[key];
}

type Extra<S extends SettingSpec> = Partial<Omit<S, 'kind' | 'flag' | 'env' | 'default' | 'help' | 'group'>>;

/** A whole-number setting; its placeholder is N unless `extra.arg` says otherwise. */
function int(flag: string, env: string | null, dflt: number, help: string, extra: Extra<IntSetting> = {}) {
  return { kind: 'int' as const, flag, env, default: dflt, help, arg: 'N', ...extra };
}

/** A text setting; `dflt` null: unset unless given. */
function str<D extends string | null>(
  flag: string,
  env: string | null,
  dflt: D,
  help: string,
  extra: Extra<StringSetting> = {},
) {
  return { kind: 'string' as const, flag, env, default: dflt, help, arg: 'VALUE', ...extra };
}

/** The settings of one group, each marked with it. */
function section<T extends Record<string, Omit<SettingSpec, 'group'>>>(
  group: SettingGroup,
  specs: T,
): { [K in keyof T]: T[K] & { group: SettingGroup } } {
  const out: Record<string, SettingSpec> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = { ...spec, group } as SettingSpec;
  return out as { [K in keyof T]: T[K] & { group: SettingGroup } };
}

const R = DEFAULT_RELAY_SESSION_OPTIONS;
const MS_0 = { min: 0, max: 3_600_000 };
const LATE_HELP = 'gap filler starts when media is this late past the next frame, ms';
const T = DEFAULT_TRANSCODE_SETTINGS;
const L = DEFAULT_SERVER_LIMITS;

/** The RTMP server's limits that are settings; each key is a ServerLimits field. */
const LIMIT_SETTINGS = section('limits', {
  maxConnections: int(
    'max-connections',
    null,
    L.maxConnections,
    'concurrent connections; further ones are refused at once',
  ),
  maxMessageBytes: int('max-message-bytes', null, L.maxMessageBytes, 'largest RTMP message accepted'),
  maxChunkStreams: int('max-chunk-streams', null, L.maxChunkStreams, 'chunk streams per session'),
  maxBufferedBytes: int(
    'max-buffered-bytes',
    null,
    L.maxBufferedBytes,
    'input bytes held per session (queued and partly assembled)',
  ),
  maxChunkSize: int('max-chunk-size', null, L.maxChunkSize, 'largest Set Chunk Size accepted'),
  handshakeTimeoutMs: int('handshake-timeout-ms', null, L.handshakeTimeoutMs, 'handshake time limit, ms'),
  idleTimeoutMs: int('idle-timeout-ms', null, L.idleTimeoutMs, 'close sessions with no bytes in or out this long, ms'),
  connectTimeoutMs: int('connect-timeout-ms', null, L.connectTimeoutMs, 'after the handshake, connect within this, ms'),
  publishTimeoutMs: int(
    'publish-timeout-ms',
    null,
    L.publishTimeoutMs,
    'after connect, publish or play within this, ms',
  ),
  maxConnectionsPerAddress: int(
    'max-connections-per-address',
    null,
    L.maxConnectionsPerAddress,
    'concurrent connections from one address; 0: no cap',
    { min: 0 },
  ),
  maxNewConnectionsPerSecond: int(
    'max-new-connections-per-second',
    null,
    L.maxNewConnectionsPerSecond,
    'new connections one address may open per second; 0: no cap',
    { min: 0 },
  ),
});

export const SETTINGS = {
  ...section('network', {
    rtmpPort: int('rtmp-port', 'RINSE_RTMP_PORT', DEFAULT_RTMP_PORT, 'RTMP port to listen on', { min: 1, max: 65535 }),
    host: str('host', 'RINSE_HOST', DEFAULT_HOST, 'interface to bind', { arg: 'ADDR' }),
    app: str('app', 'RINSE_APP', DEFAULT_APP, 'publish paths are {app}/{userId}/{streamId}', { arg: 'NAME' }),
    rtmps: str('rtmps', 'RINSE_RTMPS', 'off', 'on: also accept RTMPS on rtmpsPort, same host (needs tlsCert, tlsKey)', {
      arg: 'MODE',
      choices: RTMPS_MODES,
    }),
    rtmpsPort: int('rtmps-port', 'RINSE_RTMPS_PORT', DEFAULT_RTMPS_PORT, 'RTMPS port, used when rtmps is on', {
      min: 1,
      max: 65535,
    }),
    tlsCert: str('tls-cert', 'RINSE_TLS_CERT', null, 'RTMPS certificate chain, PEM; re-read when it changes', {
      arg: 'FILE',
      example: '/etc/rinse/tls/tls.crt',
    }),
    tlsKey: str('tls-key', 'RINSE_TLS_KEY', null, 'its private key, PEM, unencrypted; re-read with it', {
      arg: 'FILE',
      example: '/etc/rinse/tls/tls.key',
    }),
  }),
  ...section('destination', {
    target: str('target', 'RINSE_TARGET', null, 'rtmp(s) URL template with {userId} {streamId} {path}', {
      arg: 'URL',
      example: 'rtmps://live.cloudflare.com:443/live/{streamId}',
    }),
    cloudApiUrl: str(
      'cloud-api-url',
      'CLOUD_API_URL',
      null,
      "look up each stream's URL at {url}/api/relay/cf-url/{userId}/{streamId}",
      {
        arg: 'URL',
        example: 'https://cloud.example.com',
      },
    ),
    relayApiToken: str('relay-api-token', 'RELAY_API_TOKEN', null, 'bearer token for that lookup', {
      arg: 'TOKEN',
      secret: true,
      example: 'secret',
    }),
    lookupTimeoutMs: int(
      'lookup-timeout-ms',
      'RINSE_LOOKUP_TIMEOUT_MS',
      DEFAULT_CLOUD_LOOKUP.timeoutMs,
      'per lookup attempt, ms',
      { max: 60_000 },
    ),
    recordingsDir: str(
      'recordings-dir',
      'RINSE_RECORDINGS_DIR',
      R.recordingsDir,
      'local mode: where cleaned streams are recorded',
      { arg: 'DIR' },
    ),
    captureDir: str(
      'capture-dir',
      'RINSE_CAPTURE_DIR',
      R.captureDir,
      'also write every incoming stream, unmodified, as FLV',
      {
        arg: 'DIR',
        example: 'captures',
      },
    ),
  }),
  ...section('access', {
    publishSecret: str(
      'publish-secret',
      'RELAY_PUBLISH_SECRET',
      null,
      'secrets publish tokens are signed with, comma-separated (old and new during a rotation)',
      { arg: 'SECRETS', secret: true, example: 'secret-new,secret-old' },
    ),
    publisherStaleMs: int(
      'publisher-stale-ms',
      'RINSE_PUBLISHER_STALE_MS',
      DEFAULT_LIVE_STREAM_OPTIONS.staleAfterMs,
      'a new publish may replace a publisher silent this long (or one with the same token), ms',
    ),
  }),
  ...section('lifecycle', {
    graceMs: int(
      'grace-ms',
      'RINSE_GRACE_MS',
      R.graceMs,
      'keep the upstream open this long after the publisher left, ms',
      { max: 3_600_000 },
    ),
    stallMs: int('stall-ms', 'RINSE_STALL_MS', R.stallMs, 'disconnect a publisher silent this long, ms', {
      min: 100,
      max: 3_600_000,
    }),
    gapFiller: str('gap-filler', 'RINSE_GAP_FILLER', 'on', 'on: fill media gaps with a frozen picture and silence', {
      arg: 'MODE',
      choices: GAP_FILLER_MODES,
    }),
    gapFillerMaxMs: int('gap-filler-max-ms', 'RINSE_GAP_FILLER_MAX_MS', 0, 'longest filler run, ms (0: graceMs)', MS_0),
    gapFillerMarginMs: int('gap-filler-margin-ms', 'RINSE_GAP_FILLER_MARGIN_MS', R.gapFiller.marginMs, LATE_HELP, MS_0),
    drainTimeoutMs: int(
      'drain-timeout-ms',
      'RINSE_DRAIN_TIMEOUT_MS',
      30_000,
      'on SIGTERM, let live streams run this long, ms',
      { min: 0, max: 86_400_000 },
    ),
    upstreamQueueBytes: int(
      'upstream-queue-bytes',
      'RINSE_UPSTREAM_QUEUE_BYTES',
      R.upstream.maxQueuedBytes ?? DEFAULT_UPSTREAM_OPTIONS.maxQueuedBytes,
      'upstream send queue before frames drop to the next keyframe',
      { min: 65_536, max: 1 << 30 },
    ),
    outageBufferMs: int(
      'outage-buffer-ms',
      'RINSE_OUTAGE_BUFFER_MS',
      R.upstream.outageBufferMs ?? DEFAULT_UPSTREAM_OPTIONS.outageBufferMs,
      'an upstream outage loses nothing this long: from the last keyframe received, resent on reconnect, ms',
      { min: 1000, max: 600_000 },
    ),
    outageBufferBytes: int(
      'outage-buffer-bytes',
      'RINSE_OUTAGE_BUFFER_BYTES',
      R.upstream.outageBufferBytes ?? DEFAULT_UPSTREAM_OPTIONS.outageBufferBytes,
      'per stream, the outage buffer holds at most this; beyond either bound it drops to the next keyframe',
      { min: 1 << 20, max: 1 << 30 },
    ),
    upstreamAckTimeoutMs: int(
      'upstream-ack-timeout-ms',
      'RINSE_UPSTREAM_ACK_TIMEOUT_MS',
      R.upstream.ackTimeoutMs ?? DEFAULT_UPSTREAM_OPTIONS.ackTimeoutMs,
      'an upstream that owes an RTMP acknowledgement this long has stopped reading: reconnect, ms',
      { min: 500, max: 600_000 },
    ),
  }),
  ...section('fixer', {
    targetKeyframeIntervalMs: int(
      'target-keyframe-interval-ms',
      'RINSE_TARGET_KEYFRAME_INTERVAL_MS',
      relayFixerDefault('targetKeyframeIntervalMs'),
      'keyframe flags at least this far apart: closer IDRs are demoted, ms',
      { min: 1000, max: 10_000 },
    ),
    maxKeyframeIntervalMs: int(
      'max-keyframe-interval-ms',
      'RINSE_MAX_KEYFRAME_INTERVAL_MS',
      relayFixerDefault('maxKeyframeIntervalMs'),
      'a longer GOP switches the stream to a transcode, ms',
      { min: 2000, max: 600_000 },
    ),
    reorderWindowMs: int(
      'reorder-window-ms',
      'RINSE_REORDER_WINDOW_MS',
      relayFixerDefault('reorderWindowMs'),
      'hold back a track running ahead at most this long, ms',
      { min: 0, max: 60_000 },
    ),
  }),
  ...section('transcode', {
    transcode: str('transcode', 'RINSE_TRANSCODE', R.transcode, 'auto: transcode when a remux cannot fix the stream', {
      arg: 'MODE',
      choices: TRANSCODE_MODES,
    }),
    transcodeStreams: str(
      'transcode-streams',
      'RINSE_TRANSCODE_STREAMS',
      R.transcodeStreams.length > 0 ? R.transcodeStreams.join(',') : null,
      'userId/streamId,... always transcoded',
      {
        arg: 'LIST',
        example: 'user1/stream1,user2/stream2',
      },
    ),
    maxTranscodes: int(
      'max-transcodes',
      'RINSE_MAX_TRANSCODES',
      DEFAULT_MAX_TRANSCODES,
      'concurrent ffmpeg transcodes (at most one per user), 0: none',
      {
        min: 0,
        max: 10_000,
      },
    ),
    transcodeAfterMs: int(
      'transcode-after-ms',
      'RINSE_TRANSCODE_AFTER_MS',
      DEFAULT_FALLBACK_OPTIONS.transcodeAfterMs,
      'a stream takes a transcode slot only once its publisher has sent media this long, ms',
      { min: 0, max: 600_000 },
    ),
    transcodePreset: str('transcode-preset', null, T.preset, 'x264 preset', { arg: 'P' }),
    transcodeTune: str('transcode-tune', null, T.tune, 'x264 tune', { arg: 'T' }),
    transcodeVideoKbps: int('transcode-video-kbps', null, T.videoKbps, 'video bitrate, kbit/s', {
      min: 100,
      max: 100_000,
    }),
    transcodeMaxKbps: int('transcode-max-kbps', null, T.maxKbps, 'peak video bitrate (VBV maxrate), kbit/s', {
      min: 100,
      max: 100_000,
    }),
    transcodeBufferKbits: int('transcode-buffer-kbits', null, T.bufferKbits, 'VBV buffer size, kbit', {
      min: 100,
      max: 1_000_000,
    }),
    transcodeGopSeconds: int('transcode-gop-seconds', null, T.gopSeconds, 'keyframe interval of the transcode, s', {
      min: 2,
      max: 10,
    }),
    transcodeAudio: str(
      'transcode-audio',
      null,
      T.audio === 'copy' ? 'copy' : 'aac',
      'copy: clean AAC passes untouched; aac: re-encode with the three below',
      {
        arg: 'MODE',
        choices: TRANSCODE_AUDIO_MODES,
      },
    ),
    transcodeAudioKbps: int('transcode-audio-kbps', null, 128, 'AAC bitrate, kbit/s', { min: 16, max: 512 }),
    transcodeAudioRate: int('transcode-audio-rate', null, 44100, 'AAC sample rate, Hz', { min: 8000, max: 96_000 }),
    transcodeAudioChannels: int('transcode-audio-channels', null, 1, 'AAC channels', { min: 1, max: 2 }),
  }),
  ...LIMIT_SETTINGS,
  ...section('api', {
    apiPort: int(
      'api-port',
      'RINSE_API_PORT',
      9997,
      'HTTP API: /healthz /readyz /v3/config/get /metrics /v1/streams; 0: any free port',
      { min: 0, max: 65535 },
    ),
    apiHost: str('api-host', 'RINSE_API_HOST', null, 'interface for the API', {
      arg: 'ADDR',
      defaultText: 'host',
      example: '0.0.0.0',
    }),
    apiToken: str('api-token', 'RINSE_API_TOKEN', null, 'bearer token for /metrics and /v1/*', {
      arg: 'TOKEN',
      secret: true,
      example: 'secret',
    }),
  }),
  ...section('logging', {
    logLevel: str('log-level', 'RINSE_LOG_LEVEL', DEFAULT_LOG_LEVEL, 'pino log level', {
      arg: 'LEVEL',
      choices: LOG_LEVELS,
    }),
  }),
};

export type SettingName = keyof typeof SETTINGS;

export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** A setting's spec, widened to the common type. */
export function settingSpec(name: SettingName): SettingSpec {
  return SETTINGS[name];
}

/** Each setting's value, in the form a config file holds it. */
export type SettingValues = {
  [K in SettingName]: (typeof SETTINGS)[K] extends { kind: 'int' }
    ? number
    : (typeof SETTINGS)[K] extends { default: string }
      ? string
      : string | null;
};

/** The inclusive bounds of an int setting. */
export function intBounds(spec: IntSetting): { min: number; max: number } {
  return { min: spec.min ?? INT_MIN, max: spec.max ?? INT_MAX };
}

/** The settings that go into the server's limits; one that is not a ServerLimits field does not compile. */
export const LIMIT_KEYS: ReadonlyArray<keyof typeof LIMIT_SETTINGS & keyof ServerLimits> = Object.keys(
  LIMIT_SETTINGS,
) as Array<keyof typeof LIMIT_SETTINGS>;
