/**
 * `rinse <command>`: the single entry point. Returns the process exit code.
 */
import { parseArgs } from 'node:util';
import { ConfigError, describeConfig, resolveServeConfig, serveFlagOptions } from './config.js';
import { createLogger } from './log.js';
import { DEFAULT_SERVER_LIMITS, RtmpServer } from './rtmp/server.js';

const USAGE = `usage: rinse <command> [options]

commands:
  serve     run the relay: accept RTMP publishes, repair them, send them on
  inspect   judge a stream by the output contract (FLV file or rtmp:// URL)
  fix       repair an FLV file without re-encoding (the same fixer the relay runs live)
  replay    publish an FLV file exactly as stored, paced by its timestamps
  config    config check: print the effective serve settings, secrets redacted
  bench     run the benchmarks (source checkout): rinse bench [--quick]

rinse serve options (each also as env var or --config key, flags first):
  --rtmp-port N              RTMP port (default 1935)                  RINSE_RTMP_PORT
  --host ADDR                interface to bind (default 0.0.0.0)       RINSE_HOST
  --app NAME                 publish paths NAME/{userId}/{streamId} (default live)
  --log-level LEVEL          trace|debug|info|warn|error|silent (default info)
  destination (one of; none: local mode, cleaned streams played at clean/{userId}/{streamId}
  and recorded to --recordings-dir):
  --target URL               rtmp(s) URL template with {userId} {streamId} {path}   RINSE_TARGET
  --cloud-api-url URL        look up each stream's URL at URL/api/relay/cf-url/{userId}/{streamId}
                             (bearer token from env RELAY_API_TOKEN)   CLOUD_API_URL
  --lookup-timeout-ms N      per lookup attempt (default 3000)
  --recordings-dir DIR       local mode recordings (default ./recordings)
  --capture-dir DIR          also write every incoming stream, unmodified, as FLV
  --grace-ms N               keep the upstream this long after the publisher left (default 10000)
  --stall-ms N               disconnect a publisher silent this long (default 5000)
  --upstream-queue-bytes N   upstream send queue before frames drop to the next keyframe (default 4194304)
  --transcode MODE           auto (when remux cannot fix) | always | never (default auto)  RINSE_TRANSCODE
  --transcode-streams LIST   userId/streamId,... always transcoded       RINSE_TRANSCODE_STREAMS
  --max-transcodes N         concurrent ffmpeg transcodes (default 4)    RINSE_MAX_TRANSCODES
  --transcode-preset P / --transcode-tune T        x264 (default veryfast / zerolatency)
  --transcode-video-kbps N / --transcode-max-kbps N / --transcode-buffer-kbits N  (2000 / 2500 / 4000)
  --transcode-gop-seconds N  keyframe interval of the transcode (default 2)
  --transcode-audio copy|aac clean AAC passes untouched (default copy); aac: re-encode with
  --transcode-audio-kbps N / --transcode-audio-rate N / --transcode-audio-channels N (128 / 44100 / 1)
  --api-port N               HTTP API: /healthz /readyz /metrics /v1/streams (default 9997; 0: any)  RINSE_API_PORT
  --api-host ADDR            interface for the API (default: --host)   RINSE_API_HOST
  --api-token TOKEN          bearer token for /metrics and /v1/*        RINSE_API_TOKEN
  --drain-timeout-ms N       on SIGTERM, let live streams run this long (default 30000)  RINSE_DRAIN_TIMEOUT_MS
  --target-keyframe-interval-ms N / --max-keyframe-interval-ms N / --reorder-window-ms N   fixer (1900 / 9800 / 500)
  --config FILE              settings file, YAML (rinse.yml) or JSON, keys as in deploy/rinse.example.yml
  --max-connections N        concurrent connections (default ${DEFAULT_SERVER_LIMITS.maxConnections})
  --max-message-bytes N      largest RTMP message (default ${DEFAULT_SERVER_LIMITS.maxMessageBytes})
  --max-chunk-streams N      chunk streams per session (default ${DEFAULT_SERVER_LIMITS.maxChunkStreams})
  --max-buffered-bytes N     input bytes held per session (default ${DEFAULT_SERVER_LIMITS.maxBufferedBytes})
  --max-chunk-size N         largest Set Chunk Size accepted (default ${DEFAULT_SERVER_LIMITS.maxChunkSize})
  --handshake-timeout-ms N   handshake time limit (default ${DEFAULT_SERVER_LIMITS.handshakeTimeoutMs})
  --idle-timeout-ms N        close sessions silent this long (default ${DEFAULT_SERVER_LIMITS.idleTimeoutMs})

rinse inspect <file.flv | rtmp://host/app/name> options:
  --json                     the report as JSON (for tools)
  --packets                  with --json: every tag's dts, pts and keyframe flag
  --seconds N                rtmp:// only: play at most N seconds (default 10)
  exit code: 0 clean (no contract rule broken), 1 not clean, 2 error

rinse fix <in.flv> <out.flv> options:
  --json                          the result as JSON
  --reorder-window-ms N           hold a track running ahead at most N ms (default 500)
  --target-keyframe-interval-ms N keep keyframe flags at least N ms apart (default 1900)
  --max-keyframe-interval-ms N    a longer GOP needs a transcode (default 10000)
  --no-idr-demotion               clear the flag of IDRs sooner than the target, but keep them
                                  IDRs (default: rewrite them as non-IDR I pictures)
  exit code: 0 fixed, 3 written but needs a transcode, 2 error

rinse replay <file.flv> <rtmp(s)://host/app/name> options:
  --speed X                  pace at X times real time (default 1)
  --loop                     start over at the end, until interrupted
  --times N                  play the file N times (default 1)
  exit code: 0 sent, 2 error (refused, connection lost)
`;

class UsageError extends Error {}

function positiveInt(flag: string, value: string | undefined, fallback: number, max = 0x7fffffff): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag}: expected a whole number, got "${value}"`);
  const n = Number(value);
  if (n < 1 || n > max) throw new UsageError(`--${flag}: expected 1..${max}, got ${n}`);
  return n;
}

/** Serve settings from flags, env and the config file; null for --help. */
function loadServeConfig(argv: string[]): ReturnType<typeof resolveServeConfig> | null {
  const { values } = parseArgs({ args: argv, options: serveFlagOptions(), strict: true, allowPositionals: false });
  if (values.help) return null;
  try {
    return resolveServeConfig(values, process.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

async function serve(argv: string[]): Promise<number> {
  const config = loadServeConfig(argv);
  if (config === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { CloudLookupDestination, LocalDestination, LOCAL_PLAY_APP, TemplateDestination } =
    await import('./relay/destination.js');
  const { Relay } = await import('./relay/relay.js');
  const { LiveStreamRegistry } = await import('./live/live-streams.js');
  const { DEFAULT_RELAY_SESSION_OPTIONS } = await import('./relay/relay-session.js');
  const { redactUrl } = await import('./rtmp/rtmp-url.js');
  const { DEFAULT_FALLBACK_OPTIONS } = await import('./fallback/fallback-switch.js');
  const { requireTool } = await import('./tools/ffmpeg-locator.js');

  let resolver;
  try {
    resolver =
      config.cloudApiUrl !== null
        ? new CloudLookupDestination({
            baseUrl: config.cloudApiUrl,
            timeoutMs: config.lookupTimeoutMs,
            ...(config.relayApiToken ? { token: config.relayApiToken } : {}),
          })
        : config.target !== null
          ? new TemplateDestination(config.target)
          : new LocalDestination();
  } catch (err) {
    throw new UsageError(`destination: ${(err as Error).message}`);
  }
  const logger = createLogger({ level: config.logLevel });
  // Set once the metrics exist (they read the server, so the server comes first).
  let metricsRef: { framesDropped: { inc(labels: { reason: string }): void } } | null = null;
  let ffmpeg: { path: string; source: string } | null = null;
  if (config.transcode !== 'never' && config.maxTranscodes > 0) {
    try {
      ffmpeg = requireTool('ffmpeg');
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'no ffmpeg found: streams that need a transcode will be relayed remuxed',
      );
    }
  }
  const hub = new LiveStreamRegistry();
  const server = new RtmpServer({
    hub,
    host: config.host,
    port: config.rtmpPort,
    appName: config.app,
    limits: config.limits,
    logger,
    ...(resolver.mode === 'local' ? { playOnlyApps: [LOCAL_PLAY_APP] } : {}),
    onPlayerFrameDropped: () => metricsRef?.framesDropped.inc({ reason: 'player-backpressure' }),
  });
  const { RelayMetrics } = await import('./metrics/relay-metrics.js');
  const { ApiServer } = await import('./api/api-server.js');
  // The relay is created below; the metrics read it at scrape time.
  let relayRef: InstanceType<typeof Relay> | null = null;
  const sessions = (): ReturnType<InstanceType<typeof Relay>['activeSessions']['slice']> =>
    relayRef?.activeSessions ?? [];
  const count = (values: string[]): Record<string, number> =>
    values.reduce<Record<string, number>>((m, v) => ({ ...m, [v]: (m[v] ?? 0) + 1 }), {});
  const metrics = new RelayMetrics({
    publishers: () => hub.publishedPaths().filter((p) => p.startsWith(`${config.app}/`)).length,
    upstreamStates: () => count(sessions().flatMap((s) => (s.upstream ? [s.upstream.stateName] : []))),
    modes: () => count(sessions().map((s) => s.mode.mode)),
    transcodesActive: () => relayRef?.transcodeSlots.active ?? 0,
    transcodesRefused: () => relayRef?.transcodeSlots.stats.refused ?? 0,
  });
  metricsRef = metrics;
  const relay = new Relay({
    registry: hub,
    resolver,
    logger,
    metrics,
    options: {
      ...DEFAULT_RELAY_SESSION_OPTIONS,
      fixer: {
        targetKeyframeIntervalMs: config.targetKeyframeIntervalMs,
        maxKeyframeIntervalMs: config.maxKeyframeIntervalMs,
        reorderWindowMs: config.reorderWindowMs,
      },
      graceMs: config.graceMs,
      stallMs: config.stallMs,
      captureDir: config.captureDir,
      recordingsDir: config.recordingsDir,
      upstream: { maxQueuedBytes: config.upstreamQueueBytes },
      transcode: config.transcode,
      transcodeStreams: config.transcodeStreams,
      fallback:
        ffmpeg === null
          ? null
          : { ...DEFAULT_FALLBACK_OPTIONS, ffmpegPath: ffmpeg.path, settings: config.transcodeSettings },
    },
    maxTranscodes: config.maxTranscodes,
  });
  relayRef = relay;
  server.setAuthorizePublish(relay.authorizePublish);
  await server.listen();
  const api = new ApiServer({ server, relay, metrics, ffmpegFound: ffmpeg !== null, token: config.apiToken, logger });
  const apiPort = await api.listen(config.apiHost, config.apiPort);
  logger.info(
    {
      mode: resolver.mode,
      target: config.target !== null ? redactUrl(config.target) : undefined,
      cloudApi: config.cloudApiUrl !== null ? new URL(config.cloudApiUrl).origin : undefined,
      token: config.relayApiToken !== null ? 'set' : undefined,
      captureDir: config.captureDir ?? undefined,
      recordingsDir: resolver.mode === 'local' ? config.recordingsDir : undefined,
      graceMs: config.graceMs,
      stallMs: config.stallMs,
      apiPort,
      drainTimeoutMs: config.drainTimeoutMs,
      transcode: config.transcode,
      maxTranscodes: config.maxTranscodes,
      ffmpeg: ffmpeg === null ? null : { path: ffmpeg.path, source: ffmpeg.source },
      settingSources: config.sources,
    },
    'relay ready',
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        relay.killTranscoders();
        process.exit(130);
      }
      stopping = true;
      // Drain: no new connections or publishes, readyz 503 at once; live streams go on until
      // they end or the drain timeout passes, then are closed cleanly upstream.
      server.stopAccepting();
      logger.info({ signal, streams: relay.activeSessions.length, drainTimeoutMs: config.drainTimeoutMs }, 'draining');
      void (async () => {
        const drained = await relay.drain(config.drainTimeoutMs);
        await server.close();
        await api.close();
        logger.info(drained, 'drained: exiting');
        resolve(0);
      })();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** `rinse config check [serve flags]`: the effective settings, secrets redacted; exit 2 on a bad one. */
async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'check') throw new UsageError('expected "config check [--config FILE] [serve flags]"');
  const config = loadServeConfig(rest);
  if (config === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const { stringify } = await import('yaml');
  process.stdout.write(`# effective rinse serve settings (secrets redacted)\n${stringify(describeConfig(config))}`);
  return 0;
}

/** `rinse bench [--quick]`: runs bench/run.ts from a source checkout (needs the dev dependencies). */
async function bench(argv: string[]): Promise<number> {
  const { spawnSync } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const { resolve: resolvePath } = await import('node:path');
  const root = resolvePath(import.meta.dirname, '..');
  const tsx = resolvePath(root, 'node_modules/.bin/tsx');
  if (!existsSync(resolvePath(root, 'bench/run.ts')) || !existsSync(tsx)) {
    throw new UsageError(
      'the benchmark runs from a source checkout with dev dependencies: npm install && npm run bench',
    );
  }
  return spawnSync(tsx, [resolvePath(root, 'bench/run.ts'), ...argv], { stdio: 'inherit' }).status ?? 2;
}

async function replay(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      speed: { type: 'string' },
      loop: { type: 'boolean' },
      times: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('expected <file.flv> <rtmp-url>');
  const [file, url] = positionals as [string, string];
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  if (!Number.isFinite(speed) || speed <= 0 || speed > 1000)
    throw new UsageError(`--speed: expected a number in (0, 1000], got "${values.speed}"`);
  const times = values.loop ? Infinity : positiveInt('times', values.times, 1, 1_000_000);
  const { replayFile } = await import('./replay.js');
  const { redactUrl, parseRtmpUrl } = await import('./rtmp/rtmp-url.js');
  try {
    parseRtmpUrl(url);
  } catch (err) {
    throw new UsageError(`bad URL ${redactUrl(url)}: ${(err as Error).message}`);
  }
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stderr.isTTY === true;
  const result = await replayFile(file, url, {
    speed,
    times,
    signal: abort.signal,
    onProgress: tty
      ? (p) =>
          process.stderr.write(
            `\rreplay: pass ${p.pass}, ${p.tags} tags, ${(p.mediaMs / 1000).toFixed(1)} s of media, ${(p.bytes / 1e6).toFixed(1)} MB`,
          )
      : undefined,
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(
    `rinse replay ${file} -> ${result.url}\n  ${result.tags} tags, ${(result.bytes / 1e6).toFixed(1)} MB, ${(result.mediaMs / 1000).toFixed(1)} s of media in ${(result.elapsedMs / 1000).toFixed(1)} s (${result.pass} pass${result.pass === 1 ? '' : 'es'}, pacing re-anchored ${result.reanchors} times)\n`,
  );
  return 0;
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      packets: { type: 'boolean' },
      seconds: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected one FLV file or rtmp:// URL');
  const source = positionals[0] as string;
  const seconds = positiveInt('seconds', values.seconds, 10, 3600);
  const { inspectFile, inspectRtmp } = await import('./inspect/inspect-source.js');
  const { formatReport } = await import('./inspect/report-text.js');
  const report = /^rtmps?:\/\//i.test(source)
    ? await inspectRtmp(source, { packets: values.packets, seconds })
    : await inspectFile(source, { packets: values.packets });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.verdict.clean ? 0 : 1;
}

async function fix(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' },
      'reorder-window-ms': { type: 'string' },
      'target-keyframe-interval-ms': { type: 'string' },
      'max-keyframe-interval-ms': { type: 'string' },
      'no-idr-demotion': { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 2) throw new UsageError('expected <in.flv> <out.flv>');
  const [input, output] = positionals as [string, string];
  const { fixFile, formatFixResult } = await import('./fix-file.js');
  const { DEFAULT_FIXER_OPTIONS } = await import('./fixer/stream-fixer.js');
  const tty = process.stderr.isTTY === true;
  const result = await fixFile(input, output, {
    fixer: {
      reorderWindowMs: positiveInt(
        'reorder-window-ms',
        values['reorder-window-ms'],
        DEFAULT_FIXER_OPTIONS.reorderWindowMs,
        60_000,
      ),
      targetKeyframeIntervalMs: positiveInt(
        'target-keyframe-interval-ms',
        values['target-keyframe-interval-ms'],
        DEFAULT_FIXER_OPTIONS.targetKeyframeIntervalMs,
        600_000,
      ),
      maxKeyframeIntervalMs: positiveInt(
        'max-keyframe-interval-ms',
        values['max-keyframe-interval-ms'],
        DEFAULT_FIXER_OPTIONS.maxKeyframeIntervalMs,
        600_000,
      ),
      demoteIdrs: values['no-idr-demotion'] !== true,
    },
    progressEveryMs: tty ? 500 : 5000,
    onProgress: (p) => {
      const pct = p.totalBytes ? ((100 * p.bytesRead) / p.totalBytes).toFixed(0) : '?';
      const line = `fix: ${pct}% (${(p.bytesRead / 1e6).toFixed(0)} of ${(p.totalBytes / 1e6).toFixed(0)} MB, ${(p.bytesRead / 1e3 / Math.max(1, p.elapsedMs)).toFixed(0)} MB/s)`;
      process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    },
  });
  if (tty) process.stderr.write('\r\x1b[K');
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatFixResult(result));
  return result.decision ? 3 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'inspect':
        return await inspect(rest);
      case 'fix':
        return await fix(rest);
      case 'replay':
        return await replay(rest);
      case 'config':
        return await configCommand(rest);
      case 'bench':
        return await bench(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`rinse: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`rinse ${command}: ${(err as Error).message}\n`);
      return 2;
    }
    // Any other failure (unreadable file, refused connection) is an error, not a verdict.
    process.stderr.write(`rinse ${command}: ${(err as Error).message}\n`);
    return 2;
  }
}
