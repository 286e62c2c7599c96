/**
 * `rinse serve`: the RTMP server, the relay behind it and the HTTP API, from the settings of
 * `config.ts`; runs until SIGINT or SIGTERM, then drains. Loaded by `cli.ts` only for serve,
 * so the light commands do not load the relay.
 */
import { parseServeArgs, type ServeConfig } from './config.js';
import { ApiServer } from './api/api-server.js';
import { DEFAULT_FALLBACK_OPTIONS } from './fallback/fallback-switch.js';
import { LiveStreamRegistry } from './live/live-streams.js';
import { createLogger, type Logger } from './log.js';
import { RelayMetrics } from './metrics/relay-metrics.js';
import {
  CloudLookupDestination,
  LocalDestination,
  LOCAL_PLAY_APP,
  TemplateDestination,
  type DestinationResolver,
} from './relay/destination.js';
import { Relay } from './relay/relay.js';
import { DEFAULT_RELAY_SESSION_OPTIONS, type RelaySessionOptions } from './relay/relay-session.js';
import { RtmpServer } from './rtmp/server.js';
import { certificateFields, loadStartupCredentials, rtmpsConfigOf, watchCredentials } from './rtmps-ingest.js';
import { redactUrl } from './rtmp/rtmp-url.js';
import { serveHelp } from './settings-docs.js';
import { UsageError } from './cli-help.js';
import { requireTool } from './tools/ffmpeg-locator.js';

type Ffmpeg = { path: string; source: string } | null;

export async function serve(argv: string[]): Promise<number> {
  const config = parseServeArgs(argv, process.env);
  if (config === null) {
    process.stdout.write(serveHelp());
    return 0;
  }
  const resolver = destinationOf(config);
  // Before anything listens: a missing, unreadable or mismatched certificate is a config error.
  const rtmps = rtmpsConfigOf(config);
  const tls = rtmps === null ? null : { ...rtmps, credentials: loadStartupCredentials(rtmps) };
  const logger = createLogger({ level: config.logLevel });
  const ffmpeg = findFfmpeg(config, logger);
  const hub = new LiveStreamRegistry({ staleAfterMs: config.publisherStaleMs });
  // Set once the metrics exist (they read the server, so the server comes first).
  let metricsRef: RelayMetrics | null = null;
  const server = new RtmpServer({
    hub,
    host: config.host,
    port: config.rtmpPort,
    appName: config.app,
    limits: config.limits,
    logger,
    publishSecrets: config.publishSecrets,
    ...(resolver.mode === 'local' ? { playOnlyApps: [LOCAL_PLAY_APP] } : {}),
    onPlayerFrameDropped: () => metricsRef?.framesDropped.inc({ reason: 'player-backpressure' }),
    ...(tls === null
      ? {}
      : {
          rtmps: {
            port: tls.port,
            credentials: tls.credentials,
            onHandshakeFailed: (code) => metricsRef?.tlsHandshakeFailures.inc({ code }),
          },
        }),
  });
  // The relay is created below; the metrics read it at scrape time.
  let relayRef: Relay | null = null;
  const metrics = relayMetrics(hub, config.app, () => relayRef);
  metricsRef = metrics;
  server.on('sessionClosed', (info) => metrics.sessionsEnded.inc({ code: info.code ?? 'none' }));
  server.on('connectionRefused', (info) => metrics.connectionsRefused.inc({ code: info.code }));
  const relay = new Relay({
    registry: hub,
    resolver,
    logger,
    metrics,
    options: sessionOptions(config, ffmpeg),
    maxTranscodes: config.maxTranscodes,
  });
  relayRef = relay;
  server.setAuthorizePublish(relay.authorizePublish);
  const rtmpAddress = await server.listen();
  const watcher = tls === null ? null : watchCredentials(server, tls, tls.credentials, logger, metrics);
  const api = new ApiServer({ server, relay, metrics, ffmpegFound: ffmpeg !== null, token: config.apiToken, logger });
  const apiPort = await api.listen(config.apiHost, config.apiPort);
  logReady(logger, config, resolver, ffmpeg, {
    rtmp: rtmpAddress.port,
    rtmps: server.rtmpsAddress?.port ?? null,
    api: apiPort,
    tls: tls === null ? null : certificateFields(tls.credentials),
  });
  const code = await untilStopped({ server, relay, api, logger, drainTimeoutMs: config.drainTimeoutMs });
  watcher?.close();
  return code;
}

function destinationOf(config: ServeConfig): DestinationResolver {
  try {
    if (config.cloudApiUrl !== null)
      return new CloudLookupDestination({
        baseUrl: config.cloudApiUrl,
        timeoutMs: config.lookupTimeoutMs,
        ...(config.relayApiToken ? { token: config.relayApiToken } : {}),
      });
    return config.target !== null ? new TemplateDestination(config.target) : new LocalDestination();
  } catch (err) {
    throw new UsageError(`destination: ${(err as Error).message}`);
  }
}

/** ffmpeg for transcodes, unless they are off; without one, streams that need it go remuxed. */
function findFfmpeg(config: ServeConfig, logger: Logger): Ffmpeg {
  if (config.transcode === 'never' || config.maxTranscodes === 0) return null;
  try {
    return requireTool('ffmpeg');
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      'no ffmpeg found: streams that need a transcode will be relayed remuxed',
    );
    return null;
  }
}

function relayMetrics(hub: LiveStreamRegistry, app: string, relay: () => Relay | null): RelayMetrics {
  const sessions = (): Relay['activeSessions'] => relay()?.activeSessions ?? [];
  const count = (values: string[]): Record<string, number> =>
    values.reduce<Record<string, number>>((m, v) => ({ ...m, [v]: (m[v] ?? 0) + 1 }), {});
  return new RelayMetrics({
    publishers: () => hub.publishedPaths().filter((p) => p.startsWith(`${app}/`)).length,
    upstreamStates: () => count(sessions().flatMap((s) => (s.upstream ? [s.upstream.stateName] : []))),
    modes: () => count(sessions().map((s) => s.mode.mode)),
    transcodesActive: () => relay()?.transcodeSlots.active ?? 0,
    transcodesRefused: () => relay()?.transcodeSlots.stats.refused ?? 0,
  });
}

function sessionOptions(config: ServeConfig, ffmpeg: Ffmpeg): RelaySessionOptions {
  return {
    ...DEFAULT_RELAY_SESSION_OPTIONS,
    fixer: {
      targetKeyframeIntervalMs: config.targetKeyframeIntervalMs,
      maxKeyframeIntervalMs: config.maxKeyframeIntervalMs,
      reorderWindowMs: config.reorderWindowMs,
    },
    graceMs: config.graceMs,
    stallMs: config.stallMs,
    gapFiller: config.gapFiller,
    captureDir: config.captureDir,
    recordingsDir: config.recordingsDir,
    upstream: {
      maxQueuedBytes: config.upstreamQueueBytes,
      outageBufferMs: config.outageBufferMs,
      outageBufferBytes: config.outageBufferBytes,
      ackTimeoutMs: config.upstreamAckTimeoutMs,
    },
    transcode: config.transcode,
    transcodeStreams: config.transcodeStreams,
    fallback:
      ffmpeg === null
        ? null
        : {
            ...DEFAULT_FALLBACK_OPTIONS,
            ffmpegPath: ffmpeg.path,
            settings: config.transcodeSettings,
            transcodeAfterMs: config.transcodeAfterMs,
          },
  };
}

function logReady(
  logger: Logger,
  config: ServeConfig,
  resolver: DestinationResolver,
  ffmpeg: Ffmpeg,
  ports: { rtmp: number; rtmps: number | null; api: number; tls: Record<string, string> | null },
): void {
  logger.info(
    {
      // Which ports listen, on which host (the API may have its own).
      listening: {
        host: config.host,
        rtmp: ports.rtmp,
        rtmps: ports.rtmps ?? 'off',
        apiHost: config.apiHost,
        api: ports.api,
      },
      ...(ports.tls ?? {}),
      mode: resolver.mode,
      target: config.target !== null ? redactUrl(config.target) : undefined,
      cloudApi: config.cloudApiUrl !== null ? new URL(config.cloudApiUrl).origin : undefined,
      token: config.relayApiToken !== null ? 'set' : undefined,
      publishAuth: config.publishSecrets.length > 0 ? `${config.publishSecrets.length} secret(s)` : 'open',
      captureDir: config.captureDir ?? undefined,
      recordingsDir: resolver.mode === 'local' ? config.recordingsDir : undefined,
      graceMs: config.graceMs,
      stallMs: config.stallMs,
      gapFiller: config.gapFiller.enabled ? 'on' : 'off',
      apiPort: ports.api,
      drainTimeoutMs: config.drainTimeoutMs,
      transcode: config.transcode,
      maxTranscodes: config.maxTranscodes,
      ffmpeg: ffmpeg === null ? null : { path: ffmpeg.path, source: ffmpeg.source },
      settingSources: config.sources,
    },
    'relay ready',
  );
  if (config.publishSecrets.length === 0) {
    logger.warn(
      { publishAuth: 'open' },
      'publish is open: no publish secret (RELAY_PUBLISH_SECRET) is set, anyone who knows a path may publish',
    );
  }
}

/** Runs until SIGINT or SIGTERM, then drains; a second signal exits at once. */
function untilStopped(running: {
  server: RtmpServer;
  relay: Relay;
  api: ApiServer;
  logger: Logger;
  drainTimeoutMs: number;
}): Promise<number> {
  const { server, relay, api, logger, drainTimeoutMs } = running;
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
      logger.info({ signal, streams: relay.activeSessions.length, drainTimeoutMs }, 'draining');
      void (async () => {
        const drained = await relay.drain(drainTimeoutMs);
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
