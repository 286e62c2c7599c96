/**
 * `rinse serve` settings from three sources, highest first: command-line flags, environment
 * variables, a YAML or JSON config file (`--config`), then defaults. Each setting (its flag,
 * env name, config key, bounds and default) is defined once, in `settings.ts`; a bad value
 * names where it came from.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parsePublishSecrets } from './media/publish-token.js';
import type { ServerLimits } from './rtmp/server.js';
import type { TranscodeSettings } from './fallback/transcoder.js';
import type { GapFillerOptions } from './relay/gap-bridge.js';
import {
  LIMIT_KEYS,
  LOG_LEVELS,
  SETTINGS,
  SETTING_NAMES,
  TRANSCODE_AUDIO_MODES,
  TRANSCODE_MODES,
  GAP_FILLER_MODES,
  intBounds,
  settingSpec,
  type LogLevel,
  type SettingName,
  type SettingSource,
  type SettingValues,
} from './settings.js';

export { SETTINGS, type LogLevel, type SettingName, type SettingSource };

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
  recordingsDir: string | null;
  graceMs: number;
  stallMs: number;
  gapFiller: GapFillerOptions;
  upstreamQueueBytes: number;
  outageBufferMs: number;
  outageBufferBytes: number;
  upstreamAckTimeoutMs: number;
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
  transcodeAfterMs: number;
  transcodeSettings: TranscodeSettings;
  limits: Partial<ServerLimits>;
  /** Secrets a publish token may be signed with; empty: local mode, publish is open. */
  publishSecrets: string[];
  publisherStaleMs: number;
  /** Every setting's effective value in config-file form (`rinse config check` prints them). */
  values: SettingValues;
  /** Where each setting that is not a default came from (secrets included, values not). */
  sources: Partial<Record<SettingName, SettingSource>>;
}

export class ConfigError extends Error {}

/** Flag definitions for util.parseArgs. */
export function serveFlagOptions(): Record<string, { type: 'string' | 'boolean' }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    config: { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const name of SETTING_NAMES) options[settingSpec(name).flag] = { type: 'string' };
  return options;
}

/** `rinse serve` / `rinse config check` arguments to settings; null for --help. */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv): ServeConfig | null {
  const { values } = parseArgs({ args: argv, options: serveFlagOptions(), strict: true, allowPositionals: false });
  return values.help ? null : resolveServeConfig(values, env);
}

/** The settings mapping of a YAML or JSON file; unknown keys are refused. */
function readConfigFile(configPath: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `--config: cannot read ${configPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let file: Record<string, unknown>;
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
      throw new ConfigError(`--config ${configPath}: unknown setting "${key}" (known: ${SETTING_NAMES.join(', ')})`);
  }
  return file;
}

/** Where a setting is given, highest source first; undefined: not given (its default applies). */
function givenValue(
  name: SettingName,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
): { value: string | number; where: string; source: SettingSource } | undefined {
  const spec = settingSpec(name);
  const flag = flags[spec.flag];
  if (typeof flag === 'string') return { value: flag, where: `--${spec.flag}`, source: 'flag' };
  const fromEnv = spec.env === null ? undefined : env[spec.env];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, where: `env ${spec.env}`, source: 'env' };
  const fromFile = file[name];
  if (fromFile === undefined || fromFile === null) return undefined;
  if (typeof fromFile !== 'string' && typeof fromFile !== 'number')
    throw new ConfigError(
      `config "${name}": expected a string or number, got ${Array.isArray(fromFile) ? 'a list' : typeof fromFile}`,
    );
  return { value: fromFile, where: `config "${name}"`, source: 'config' };
}

/** Every setting's value from the sources, ints checked against their bounds. */
function resolveSettings(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { values: SettingValues; sources: Partial<Record<SettingName, SettingSource>> } {
  const configPath = flags.config as string | undefined;
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const values: Record<string, string | number | null> = {};
  const sources: Partial<Record<SettingName, SettingSource>> = {};
  for (const name of SETTING_NAMES) {
    const spec = settingSpec(name);
    const given = givenValue(name, flags, env, file);
    if (given !== undefined) sources[name] = given.source;
    if (given === undefined) values[name] = spec.default;
    else if (spec.kind === 'string') values[name] = String(given.value);
    else {
      const text = String(given.value);
      if (!/^\d+$/.test(text))
        throw new ConfigError(`${given.where}: expected a whole number, got "${spec.secret ? '***' : text}"`);
      const n = Number(text);
      const { min, max } = intBounds(spec);
      if (n < min || n > max) throw new ConfigError(`${given.where}: expected ${min}..${max}, got ${n}`);
      values[name] = n;
    }
  }
  return { values: values as SettingValues, sources };
}

/** A text setting limited to its choices (`what` names it in the error). */
function oneOf<T extends string>(value: string, choices: readonly T[], what: string, prefix = ''): T {
  if (!(choices as readonly string[]).includes(value))
    throw new ConfigError(`${what}: expected ${prefix}${choices.join('|')}, got "${value}"`);
  return value as T;
}

function transcodeSettingsOf(v: SettingValues): TranscodeSettings {
  const audio = oneOf(v.transcodeAudio, TRANSCODE_AUDIO_MODES, 'transcode audio');
  return {
    preset: v.transcodePreset,
    tune: v.transcodeTune,
    videoKbps: v.transcodeVideoKbps,
    maxKbps: v.transcodeMaxKbps,
    bufferKbits: v.transcodeBufferKbits,
    gopSeconds: v.transcodeGopSeconds,
    audio:
      audio === 'copy'
        ? 'copy'
        : { kbps: v.transcodeAudioKbps, sampleRate: v.transcodeAudioRate, channels: v.transcodeAudioChannels },
    extraArgs: [],
  };
}

function transcodeStreamsOf(list: string | null): string[] {
  const streams = (list ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
  for (const s of streams)
    if (!/^[^/]+\/[^/]+$/.test(s))
      throw new ConfigError(`transcode streams: expected userId/streamId[,...], got "${s}"`);
  return streams;
}

export function resolveServeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): ServeConfig {
  const { values: v, sources } = resolveSettings(flags, env);
  const logLevel = oneOf(v.logLevel, LOG_LEVELS, 'log level', 'one of ');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v.app))
    throw new ConfigError(`app: expected a plain name like "live", got "${v.app}"`);
  if (v.target !== null && v.cloudApiUrl !== null) {
    throw new ConfigError(
      `both a target (${sources.target}) and a cloud API URL (${sources.cloudApiUrl}) are set: choose one`,
    );
  }
  const limits: Partial<ServerLimits> = {};
  for (const key of LIMIT_KEYS) limits[key] = v[key];
  const transcode = oneOf(v.transcode, TRANSCODE_MODES, 'transcode');
  const gapFiller: GapFillerOptions = {
    enabled: oneOf(v.gapFiller, GAP_FILLER_MODES, 'gap-filler') === 'on',
    maxMs: v.gapFillerMaxMs === 0 ? null : v.gapFillerMaxMs,
    marginMs: v.gapFillerMarginMs,
  };
  const transcodeStreams = transcodeStreamsOf(v.transcodeStreams);
  const transcodeSettings = transcodeSettingsOf(v);
  return {
    ...plainSettings(v),
    logLevel,
    apiHost: v.apiHost ?? v.host,
    transcode,
    gapFiller,
    transcodeStreams,
    transcodeSettings,
    limits,
    publishSecrets: parsePublishSecrets(v.publishSecret ?? ''),
    publisherStaleMs: v.publisherStaleMs,
    values: { ...v, apiHost: v.apiHost ?? v.host },
    sources,
  };
}

/** The settings that ServeConfig holds as they are. */
function plainSettings(v: SettingValues) {
  return {
    rtmpPort: v.rtmpPort,
    host: v.host,
    app: v.app,
    target: v.target,
    cloudApiUrl: v.cloudApiUrl,
    relayApiToken: v.relayApiToken,
    lookupTimeoutMs: v.lookupTimeoutMs,
    captureDir: v.captureDir,
    recordingsDir: v.recordingsDir,
    graceMs: v.graceMs,
    stallMs: v.stallMs,
    upstreamQueueBytes: v.upstreamQueueBytes,
    outageBufferMs: v.outageBufferMs,
    outageBufferBytes: v.outageBufferBytes,
    upstreamAckTimeoutMs: v.upstreamAckTimeoutMs,
    apiPort: v.apiPort,
    apiToken: v.apiToken,
    drainTimeoutMs: v.drainTimeoutMs,
    targetKeyframeIntervalMs: v.targetKeyframeIntervalMs,
    maxKeyframeIntervalMs: v.maxKeyframeIntervalMs,
    reorderWindowMs: v.reorderWindowMs,
    maxTranscodes: v.maxTranscodes,
    transcodeAfterMs: v.transcodeAfterMs,
  };
}

/** Each setting's effective value as `rinse config check` prints it: secrets and stream keys hidden. */
export function describeConfig(config: ServeConfig): Record<SettingName, string | number | null> {
  const out = {} as Record<SettingName, string | number | null>;
  for (const name of SETTING_NAMES) {
    const value = config.values[name];
    out[name] =
      settingSpec(name).secret && value !== null
        ? '***'
        : name === 'target' && typeof value === 'string'
          ? redactTarget(value)
          : value;
  }
  return out;
}

/** A target URL template with its stream-key part hidden (everything after the app). */
function redactTarget(url: string): string {
  const m = /^(rtmps?:\/\/[^/]+\/[^/?]+)(.*)$/i.exec(url);
  return m ? `${m[1]}${m[2] ? '/***' : ''}` : '***';
}
