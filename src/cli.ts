/**
 * `rinse <command>`: the single entry point. Returns the process exit code.
 *
 * Each command loads what it needs when it runs (`await import`), so `rinse --help` and the
 * light commands start without loading the relay.
 */
import { parseArgs } from 'node:util';
import {
  BENCH_HELP,
  CONFIG_HELP,
  INSPECT_HELP,
  REPLAY_HELP,
  TOP_USAGE,
  UsageError,
  fixHelp,
  formatHelp,
  intFlag,
  parseOptionsOf,
} from './cli-help.js';
import type { InspectReport } from './inspect/report-types.js';

/** `rinse config check [serve flags]`: the effective settings, secrets redacted; exit 2 on a bad one. */
async function configCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(formatHelp(CONFIG_HELP));
    return 0;
  }
  if (sub !== 'check') throw new UsageError('expected "config check [--config FILE] [serve flags]"');
  const { parseServeArgs } = await import('./config.js');
  const config = parseServeArgs(rest, process.env);
  if (config === null) {
    process.stdout.write(formatHelp(CONFIG_HELP));
    return 0;
  }
  const { configCheckText } = await import('./settings-docs.js');
  process.stdout.write(configCheckText(config));
  return 0;
}

/** `rinse bench [--quick]`: runs bench/run.ts from a source checkout (needs the dev dependencies). */
async function bench(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(formatHelp(BENCH_HELP));
    return 0;
  }
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
    // --log-level is accepted as it always was; replay logs nothing.
    options: parseOptionsOf(REPLAY_HELP, { 'log-level': { type: 'string' } }),
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(formatHelp(REPLAY_HELP));
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('expected <file.flv> <rtmp-url>');
  const [file, url] = positionals as [string, string];
  const speedText = values.speed as string | undefined;
  const speed = speedText === undefined ? 1 : Number(speedText);
  if (!Number.isFinite(speed) || speed <= 0 || speed > 1000)
    throw new UsageError(`--speed: expected a number in (0, 1000], got "${speedText}"`);
  const times = values.loop ? Infinity : intFlag(REPLAY_HELP, 'times', values.times as string | undefined);
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
    options: parseOptionsOf(INSPECT_HELP),
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(formatHelp(INSPECT_HELP));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected one FLV file or rtmp:// URL');
  const source = positionals[0] as string;
  const seconds = intFlag(INSPECT_HELP, 'seconds', values.seconds as string | undefined);
  const packets = values.packets === true;
  const html = values.html as string | undefined;
  const timeline = html !== undefined;
  const { inspectFile, inspectRtmp } = await import('./inspect/inspect-source.js');
  const { formatReport } = await import('./inspect/report-text.js');
  const report = /^rtmps?:\/\//i.test(source)
    ? await inspectRtmp(source, { packets, seconds, timeline })
    : await inspectFile(source, { packets, timeline });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (html !== undefined) await writeHtmlReport(html, report);
  return report.verdict.clean ? 0 : 1;
}

/** `inspect --html FILE`: the report as one page; its scripts and styles are read here (inspect reads no files of ours). */
async function writeHtmlReport(file: string, report: InspectReport): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { webAsset } = await import('./tools/web-assets.js');
  const { renderHtmlReport } = await import('./inspect/report-html.js');
  const asset = (name: string): string => {
    const found = webAsset(name);
    if (found === null) throw new Error(`the page asset ${name} is missing`);
    return found.body;
  };
  const page = renderHtmlReport(report, {
    uplotJs: asset('uPlot.iife.min.js'),
    uplotCss: asset('uPlot.min.css'),
    chartsJs: asset('timeline-charts.js'),
    css: asset('rinse.css'),
  });
  await writeFile(file, page);
  process.stderr.write(
    `rinse inspect: wrote ${file} (${Math.max(1, Math.round(Buffer.byteLength(page) / 1000))} kB)\n`,
  );
}

async function fix(argv: string[]): Promise<number> {
  const { DEFAULT_FIXER_OPTIONS } = await import('./fixer/stream-fixer.js');
  const help = fixHelp(DEFAULT_FIXER_OPTIONS);
  const { values, positionals } = parseArgs({
    args: argv,
    options: parseOptionsOf(help),
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(formatHelp(help));
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError('expected <in.flv> <out.flv>');
  const [input, output] = positionals as [string, string];
  const threshold = (name: string): number => intFlag(help, name, values[name] as string | undefined);
  const fixer = {
    reorderWindowMs: threshold('reorder-window-ms'),
    targetKeyframeIntervalMs: threshold('target-keyframe-interval-ms'),
    maxKeyframeIntervalMs: threshold('max-keyframe-interval-ms'),
    demoteIdrs: values['no-idr-demotion'] !== true,
  };
  const { fixFile, formatFixResult } = await import('./fix-file.js');
  const tty = process.stderr.isTTY === true;
  const result = await fixFile(input, output, {
    fixer,
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

async function run(command: string | undefined, rest: string[]): Promise<number> {
  switch (command) {
    case 'serve': {
      const { serve } = await import('./serve.js');
      return serve(rest);
    }
    case 'inspect':
      return inspect(rest);
    case 'fix':
      return fix(rest);
    case 'replay':
      return replay(rest);
    case 'config':
      return configCommand(rest);
    case 'bench':
      return bench(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(TOP_USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`rinse: unknown command "${command}"\n\n${TOP_USAGE}`);
      return 2;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    return await run(command, rest);
  } catch (err) {
    // A usage error, a bad setting (ConfigError), a rejected flag (ERR_PARSE_ARGS_*) or any
    // other failure (unreadable file, refused connection): an error, not a verdict.
    process.stderr.write(`rinse ${command}: ${(err as Error).message}\n`);
    return 2;
  }
}
