/**
 * `rinse serve` settings from three sources, highest first: command-line flags, environment
 * variables, a JSON config file (`--config`), then defaults. Each setting has one flag name,
 * one env name and one config key; a bad value names where it came from.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './rtmp/server.js';
import { DEFAULT_TRANSCODE_SETTINGS, type TranscodeSettings } from './fallback/transcoder.js';
import { DEFAULT_FIXER_OPTIONS } from './fixer/stream-fixer.js';

export type SettingSource = 'flag' | 'env' | 'config' | 'default';

interface SettingSpec {
  flag: string;
  env: string | null;
  kind: 'int' | 'string';
  /** Inclusive bounds for ints. */
  min?: number;
  max?: number;
  /** Never printed (tokens). */
  secret?: boolean;
}

export const SETTINGS = {
  rtmpPort: { flag: 'rtmp-port', env: 'RINSE_RTMP_PORT', kind: 'int', min: 1, max: 65535 },
  host: { flag: 'host', env: 'RINSE_HOST', kind: 'string' },
  app: { flag: 'app', env: 'RINSE_APP', kind: 'string' },
  logLevel: { flag: 'log-level', env: 'RINSE_LOG_LEVEL', kind: 'string' },
  target: { flag: 'target', env: 'RINSE_TARGET', kind: 'string' },
  cloudApiUrl: { flag: 'cloud-api-url', env: 'CLOUD_API_URL', kind: 'string' },
  relayApiToken: { flag: 'relay-api-token', env: 'RELAY_API_TOKEN', kind: 'string', secret: true },
  lookupTimeoutMs: { flag: 'lookup-timeout-ms', env: 'RINSE_LOOKUP_TIMEOUT_MS', kind: 'int', min: 1, max: 60_000 },
  captureDir: { flag: 'capture-dir', env: 'RINSE_CAPTURE_DIR', kind: 'string' },
  recordingsDir: { flag: 'recordings-dir', env: 'RINSE_RECORDINGS_DIR', kind: 'string' },
  graceMs: { flag: 'grace-ms', env: 'RINSE_GRACE_MS', kind: 'int', min: 1, max: 3_600_000 },
  stallMs: { flag: 'stall-ms', env: 'RINSE_STALL_MS', kind: 'int', min: 100, max: 3_600_000 },
  upstreamQueueBytes: {
    flag: 'upstream-queue-bytes',
    env: 'RINSE_UPSTREAM_QUEUE_BYTES',
    kind: 'int',
    min: 65_536,
    max: 1 << 30,
  },
  apiPort: { flag: 'api-port', env: 'RINSE_API_PORT', kind: 'int', min: 0, max: 65535 },
  apiHost: { flag: 'api-host', env: 'RINSE_API_HOST', kind: 'string' },
  apiToken: { flag: 'api-token', env: 'RINSE_API_TOKEN', kind: 'string', secret: true },
  drainTimeoutMs: { flag: 'drain-timeout-ms', env: 'RINSE_DRAIN_TIMEOUT_MS', kind: 'int', min: 0, max: 86_400_000 },
  targetKeyframeIntervalMs: {
    flag: 'target-keyframe-interval-ms',
    env: 'RINSE_TARGET_KEYFRAME_INTERVAL_MS',
    kind: 'int',
    min: 1000,
    max: 10_000,
  },
  maxKeyframeIntervalMs: {
    flag: 'max-keyframe-interval-ms',
    env: 'RINSE_MAX_KEYFRAME_INTERVAL_MS',
    kind: 'int',
    min: 2000,
    max: 600_000,
  },
  reorderWindowMs: { flag: 'reorder-window-ms', env: 'RINSE_REORDER_WINDOW_MS', kind: 'int', min: 0, max: 60_000 },
  transcode: { flag: 'transcode', env: 'RINSE_TRANSCODE', kind: 'string' },
  transcodeStreams: { flag: 'transcode-streams', env: 'RINSE_TRANSCODE_STREAMS', kind: 'string' },
  maxTranscodes: { flag: 'max-transcodes', env: 'RINSE_MAX_TRANSCODES', kind: 'int', min: 0, max: 10_000 },
  transcodePreset: { flag: 'transcode-preset', env: null, kind: 'string' },
  transcodeTune: { flag: 'transcode-tune', env: null, kind: 'string' },
  transcodeVideoKbps: { flag: 'transcode-video-kbps', env: null, kind: 'int', min: 100, max: 100_000 },
  transcodeMaxKbps: { flag: 'transcode-max-kbps', env: null, kind: 'int', min: 100, max: 100_000 },
  transcodeBufferKbits: { flag: 'transcode-buffer-kbits', env: null, kind: 'int', min: 100, max: 1_000_000 },
  transcodeGopSeconds: { flag: 'transcode-gop-seconds', env: null, kind: 'int', min: 2, max: 10 },
  transcodeAudio: { flag: 'transcode-audio', env: null, kind: 'string' },
  transcodeAudioKbps: { flag: 'transcode-audio-kbps', env: null, kind: 'int', min: 16, max: 512 },
  transcodeAudioRate: { flag: 'transcode-audio-rate', env: null, kind: 'int', min: 8000, max: 96_000 },
  transcodeAudioChannels: { flag: 'transcode-audio-channels', env: null, kind: 'int', min: 1, max: 2 },
  maxConnections: { flag: 'max-connections', env: null, kind: 'int', min: 1 },
  maxMessageBytes: { flag: 'max-message-bytes', env: null, kind: 'int', min: 1 },
  maxChunkStreams: { flag: 'max-chunk-streams', env: null, kind: 'int', min: 1 },
  maxBufferedBytes: { flag: 'max-buffered-bytes', env: null, kind: 'int', min: 1 },
  maxChunkSize: { flag: 'max-chunk-size', env: null, kind: 'int', min: 1 },
  handshakeTimeoutMs: { flag: 'handshake-timeout-ms', env: null, kind: 'int', min: 1 },
  idleTimeoutMs: { flag: 'idle-timeout-ms', env: null, kind: 'int', min: 1 },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];

export interface ServeConfig {
  rtmpPort: number;
  host: string;
  app: string;
  logLevel: LogLevel;
  target: string | null;
  cloudApiUrl: string | null;
  relayApiToken: string | null;
  lookupTimeoutMs: number;
  captureDir: string | null;
  /** Local mode only. */
  recordingsDir: string;
  graceMs: number;
  stallMs: number;
  upstreamQueueBytes: number;
  apiPort: number;
  apiHost: string;
  apiToken: string | null;
  drainTimeoutMs: number;
  targetKeyframeIntervalMs: number;
  maxKeyframeIntervalMs: number;
  reorderWindowMs: number;
  transcode: 'auto' | 'always' | 'never';
  transcodeStreams: string[];
  maxTranscodes: number;
  transcodeSettings: TranscodeSettings;
  limits: Partial<ServerLimits>;
  /** Where each setting that is not a default came from (secrets included, values not). */
  sources: Partial<Record<SettingName, SettingSource>>;
}

export class ConfigError extends Error {}

const LIMIT_KEYS = [
  'maxConnections',
  'maxMessageBytes',
  'maxChunkStreams',
  'maxBufferedBytes',
  'maxChunkSize',
  'handshakeTimeoutMs',
  'idleTimeoutMs',
] as const;

/** Flag definitions for util.parseArgs. */
export function serveFlagOptions(): Record<string, { type: 'string' | 'boolean' }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const spec of Object.values(SETTINGS)) options[spec.flag] = { type: 'string' };
  return options;
}

export function resolveServeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): ServeConfig {
  let file: Record<string, unknown> = {};
  const configPath = flags.config as string | undefined;
  if (configPath !== undefined) {
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `--config: cannot read ${configPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    try {
      const parsed: unknown = /\.ya?ml$/i.test(configPath) ? parseYaml(text) : JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not a mapping of settings');
      file = parsed as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`--config ${configPath}: ${(err as Error).message}`);
    }
    for (const key of Object.keys(file)) {
      if (!(key in SETTINGS))
        throw new ConfigError(
          `--config ${configPath}: unknown setting "${key}" (known: ${Object.keys(SETTINGS).join(', ')})`,
        );
    }
  }

  const sources: Partial<Record<SettingName, SettingSource>> = {};
  const get = (name: SettingName): { value: string | number; where: string } | undefined => {
    const spec: SettingSpec = SETTINGS[name];
    const flag = flags[spec.flag];
    if (typeof flag === 'string') {
      sources[name] = 'flag';
      return { value: flag, where: `--${spec.flag}` };
    }
    const fromEnv = spec.env === null ? undefined : env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      sources[name] = 'env';
      return { value: fromEnv, where: `env ${spec.env}` };
    }
    const fromFile = file[name];
    if (fromFile !== undefined && fromFile !== null) {
      if (typeof fromFile !== 'string' && typeof fromFile !== 'number')
        throw new ConfigError(
          `config "${name}": expected a string or number, got ${Array.isArray(fromFile) ? 'a list' : typeof fromFile}`,
        );
      sources[name] = 'config';
      return { value: fromFile, where: `config "${name}"` };
    }
    return undefined;
  };
  const str = (name: SettingName): string | null => {
    const v = get(name);
    return v === undefined ? null : String(v.value);
  };
  const int = (name: SettingName, fallback: number): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const spec: SettingSpec = SETTINGS[name];
    const text = String(v.value);
    if (!/^\d+$/.test(text))
      throw new ConfigError(`${v.where}: expected a whole number, got "${spec.secret ? '***' : text}"`);
    const n = Number(text);
    const min = spec.min ?? 1;
    const max = spec.max ?? 0x7fffffff;
    if (n < min || n > max) throw new ConfigError(`${v.where}: expected ${min}..${max}, got ${n}`);
    return n;
  };

  const logLevel = (str('logLevel') ?? 'info') as LogLevel;
  if (!LEVELS.includes(logLevel))
    throw new ConfigError(`log level: expected one of ${LEVELS.join('|')}, got "${logLevel}"`);
  const app = str('app') ?? 'live';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(app))
    throw new ConfigError(`app: expected a plain name like "live", got "${app}"`);
  const target = str('target');
  const cloudApiUrl = str('cloudApiUrl');
  if (target !== null && cloudApiUrl !== null) {
    throw new ConfigError(
      `both a target (${sources.target}) and a cloud API URL (${sources.cloudApiUrl}) are set: choose one`,
    );
  }
  const limits: Partial<ServerLimits> = {};
  for (const key of LIMIT_KEYS) limits[key] = int(key, DEFAULT_SERVER_LIMITS[key]);
  const transcode = str('transcode') ?? 'auto';
  if (transcode !== 'auto' && transcode !== 'always' && transcode !== 'never')
    throw new ConfigError(`transcode: expected auto|always|never, got "${transcode}"`);
  const transcodeStreams = (str('transcodeStreams') ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
  for (const s of transcodeStreams)
    if (!/^[^/]+\/[^/]+$/.test(s))
      throw new ConfigError(`transcode streams: expected userId/streamId[,...], got "${s}"`);
  const audioMode = str('transcodeAudio') ?? 'copy';
  if (audioMode !== 'copy' && audioMode !== 'aac')
    throw new ConfigError(`transcode audio: expected copy|aac, got "${audioMode}"`);
  const d = DEFAULT_TRANSCODE_SETTINGS;
  const transcodeSettings: TranscodeSettings = {
    preset: str('transcodePreset') ?? d.preset,
    tune: str('transcodeTune') ?? d.tune,
    videoKbps: int('transcodeVideoKbps', d.videoKbps),
    maxKbps: int('transcodeMaxKbps', d.maxKbps),
    bufferKbits: int('transcodeBufferKbits', d.bufferKbits),
    gopSeconds: int('transcodeGopSeconds', d.gopSeconds),
    audio:
      audioMode === 'copy'
        ? 'copy'
        : {
            kbps: int('transcodeAudioKbps', 128),
            sampleRate: int('transcodeAudioRate', 44100),
            channels: int('transcodeAudioChannels', 1),
          },
    extraArgs: [],
  };
  return {
    rtmpPort: int('rtmpPort', 1935),
    host: str('host') ?? '0.0.0.0',
    app,
    logLevel,
    target,
    cloudApiUrl,
    relayApiToken: str('relayApiToken'),
    lookupTimeoutMs: int('lookupTimeoutMs', 3000),
    captureDir: str('captureDir'),
    recordingsDir: str('recordingsDir') ?? 'recordings',
    graceMs: int('graceMs', 10_000),
    stallMs: int('stallMs', 5_000),
    upstreamQueueBytes: int('upstreamQueueBytes', 4 * 1024 * 1024),
    apiPort: int('apiPort', 9997),
    apiHost: str('apiHost') ?? str('host') ?? '0.0.0.0',
    apiToken: str('apiToken'),
    drainTimeoutMs: int('drainTimeoutMs', 30_000),
    targetKeyframeIntervalMs: int('targetKeyframeIntervalMs', DEFAULT_FIXER_OPTIONS.targetKeyframeIntervalMs),
    maxKeyframeIntervalMs: int('maxKeyframeIntervalMs', 9800),
    reorderWindowMs: int('reorderWindowMs', DEFAULT_FIXER_OPTIONS.reorderWindowMs),
    transcode,
    transcodeStreams,
    maxTranscodes: int('maxTranscodes', 4),
    transcodeSettings,
    limits,
    sources,
  };
}

/** The effective settings as printed by `rinse config check`: secrets redacted. */
export function describeConfig(config: ServeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (key === 'sources') continue;
    const spec = (SETTINGS as Record<string, SettingSpec>)[key];
    out[key] =
      spec?.secret && value !== null
        ? '***'
        : key === 'target' && typeof value === 'string'
          ? redactTarget(value)
          : value;
  }
  out.sources = config.sources;
  return out;
}

/** A target URL template with its stream-key part hidden (everything after the app). */
function redactTarget(url: string): string {
  const m = /^(rtmps?:\/\/[^/]+\/[^/?]+)(.*)$/i.exec(url);
  return m ? `${m[1]}${m[2] ? '/***' : ''}` : '***';
}
