/**
 * `rinse <command>`: the single entry point. Returns the process exit code.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createLogger } from './log.js';
import { DEFAULT_SERVER_LIMITS, RtmpServer, type ServerLimits } from './rtmp/server.js';

const USAGE = `usage: rinse <command> [options]

commands:
  serve     run the RTMP ingest server
  inspect   tell why Cloudflare would accept or refuse a stream (FLV file or rtmp:// URL)
  fix       repair an FLV file without re-encoding (the same fixer the relay runs live)

rinse serve options:
  --rtmp-port N              RTMP port (default 1935)
  --host ADDR                interface to bind (default 0.0.0.0)
  --app NAME                 app of publish paths NAME/{userId}/{streamId} (default live)
  --log-level LEVEL          trace|debug|info|warn|error|silent (default info)
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
  exit code: 0 accept, 1 reject, 2 error

rinse fix <in.flv> <out.flv> options:
  --json                          the result as JSON
  --reorder-window-ms N           hold a track running ahead at most N ms (default 500)
  --target-keyframe-interval-ms N keep keyframe flags at least N ms apart (default 2000)
  --max-keyframe-interval-ms N    a longer GOP needs a transcode (default 10000)
  --no-idr-demotion               clear the flag of IDRs sooner than the target, but keep them
                                  IDRs (default: rewrite them as non-IDR I pictures)
  exit code: 0 fixed, 3 written but needs a transcode, 2 error
`;

const LIMIT_FLAGS: Record<string, keyof ServerLimits> = {
  'max-connections': 'maxConnections',
  'max-message-bytes': 'maxMessageBytes',
  'max-chunk-streams': 'maxChunkStreams',
  'max-buffered-bytes': 'maxBufferedBytes',
  'max-chunk-size': 'maxChunkSize',
  'handshake-timeout-ms': 'handshakeTimeoutMs',
  'idle-timeout-ms': 'idleTimeoutMs',
};

class UsageError extends Error {}

function positiveInt(flag: string, value: string | undefined, fallback: number, max = 0x7fffffff): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag}: expected a whole number, got "${value}"`);
  const n = Number(value);
  if (n < 1 || n > max) throw new UsageError(`--${flag}: expected 1..${max}, got ${n}`);
  return n;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
type Level = (typeof LEVELS)[number];

async function serve(argv: string[]): Promise<number> {
  const options: ParseArgsConfig['options'] = {
    'rtmp-port': { type: 'string' },
    host: { type: 'string' },
    app: { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean' },
  };
  for (const flag of Object.keys(LIMIT_FLAGS)) options[flag] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const level = (str('log-level') ?? 'info') as Level;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level: expected one of ${LEVELS.join('|')}, got "${level}"`);
  const port = positiveInt('rtmp-port', str('rtmp-port'), 1935, 65535);
  const app = str('app') ?? 'live';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(app)) throw new UsageError(`--app: expected a plain name like "live", got "${app}"`);
  const limits: Partial<ServerLimits> = {};
  for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
    limits[key] = positiveInt(flag, str(flag), DEFAULT_SERVER_LIMITS[key]);
  }

  const logger = createLogger({ level });
  const server = new RtmpServer({ host: str('host') ?? '0.0.0.0', port, appName: app, limits, logger });
  await server.listen();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      void server.close().then(() => resolve(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function inspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, packets: { type: 'boolean' }, seconds: { type: 'string' }, help: { type: 'boolean' } },
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
  return report.verdict.accept ? 0 : 1;
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
      reorderWindowMs: positiveInt('reorder-window-ms', values['reorder-window-ms'], DEFAULT_FIXER_OPTIONS.reorderWindowMs, 60_000),
      targetKeyframeIntervalMs: positiveInt('target-keyframe-interval-ms', values['target-keyframe-interval-ms'], DEFAULT_FIXER_OPTIONS.targetKeyframeIntervalMs, 600_000),
      maxKeyframeIntervalMs: positiveInt('max-keyframe-interval-ms', values['max-keyframe-interval-ms'], DEFAULT_FIXER_OPTIONS.maxKeyframeIntervalMs, 600_000),
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
