/**
 * The `--help` of each `rinse` command but serve (whose options are the settings table,
 * `settings-docs.ts`), and the flag definitions they are parsed with: a flag, its default
 * and its help are written once, here.
 */
import type { FixerOptions } from './fixer/stream-fixer.js';

/** A wrong command line: printed as `rinse <command>: message`, exit code 2. */
export class UsageError extends Error {}

export interface FlagHelp {
  name: string;
  /** Placeholder for its value; none: a switch. */
  arg?: string;
  default?: number;
  /** Largest value of a whole-number flag (the smallest is 1). */
  max?: number;
  help: string;
  /** A second line of help. */
  more?: string;
}

export interface CommandHelp {
  usage: string;
  about: string[];
  flags: FlagHelp[];
  examples: string[];
  exit: string;
}

export const TOP_USAGE = `usage: rinse <command> [options]

commands:
  serve     run the relay: accept RTMP publishes, repair them, send them on
  inspect   judge a stream by the output contract (FLV file or rtmp:// URL)
  fix       repair an FLV file without re-encoding (the same fixer the relay runs live)
  replay    publish an FLV file exactly as stored, paced by its timestamps
  config    config check: print the effective serve settings and their sources, secrets redacted
  bench     run the benchmarks (source checkout): rinse bench [--quick]

\`rinse <command> --help\` lists a command's options, with their defaults and an example.
The rinse serve options are also environment variables and --config file keys: rinse serve --help.
`;

export const INSPECT_HELP: CommandHelp = {
  usage: 'rinse inspect <file.flv | rtmp(s)://host/app/name> [options]',
  about: [
    'Judges a stream by the output contract (docs/output-contract.md): one finding per broken rule,',
    'then what was measured (codecs, GOPs, timestamps, A/V skew, bitrate). A file of any size is',
    'read in pieces; an rtmp:// URL is played for at most --seconds.',
  ],
  flags: [
    { name: 'json', help: 'the report as JSON (for tools)' },
    { name: 'packets', help: "with --json: every tag's dts, pts and keyframe flag" },
    { name: 'seconds', arg: 'N', default: 10, max: 3600, help: 'rtmp:// only: play at most N seconds' },
    {
      name: 'html',
      arg: 'FILE',
      help: 'also write the report as one self-contained HTML page (charts, findings on the timeline)',
    },
  ],
  examples: [
    'rinse inspect capture.flv',
    'rinse inspect --seconds 20 rtmp://127.0.0.1/live/user1/stream1',
    'rinse inspect --html report.html capture.flv',
  ],
  exit: '0 clean (no contract rule broken), 1 not clean, 2 error',
};

export function fixHelp(defaults: FixerOptions): CommandHelp {
  return {
    usage: 'rinse fix <in.flv> <out.flv> [options]',
    about: [
      'Repairs an FLV file without re-encoding, with the fixer the relay runs live, and says what',
      'it repaired. Constant memory: any file size.',
    ],
    flags: [
      { name: 'json', help: 'the result as JSON' },
      {
        name: 'reorder-window-ms',
        arg: 'N',
        default: defaults.reorderWindowMs,
        max: 60_000,
        help: 'hold a track running ahead at most N ms',
      },
      {
        name: 'target-keyframe-interval-ms',
        arg: 'N',
        default: defaults.targetKeyframeIntervalMs,
        max: 600_000,
        help: 'keep keyframe flags at least N ms apart',
      },
      {
        name: 'max-keyframe-interval-ms',
        arg: 'N',
        default: defaults.maxKeyframeIntervalMs,
        max: 600_000,
        help: 'a longer GOP needs a transcode',
      },
      {
        name: 'no-idr-demotion',
        help: 'clear the keyframe flag of IDRs sooner than the target, but keep them IDRs',
        more: '(default: rewrite them as non-IDR I pictures)',
      },
    ],
    examples: ['rinse fix dirty.flv clean.flv', 'rinse fix --json --max-keyframe-interval-ms 4000 in.flv out.flv'],
    exit: '0 fixed, 3 written but needs a transcode, 2 error',
  };
}

export const REPLAY_HELP: CommandHelp = {
  usage: 'rinse replay <file.flv> <rtmp(s)://host/app/name> [options]',
  about: [
    'Publishes the file exactly as stored (timestamps, framing and bytes untouched), paced by its',
    'timestamps; where its clock breaks, the pacing re-anchors instead of stalling.',
  ],
  flags: [
    { name: 'speed', arg: 'X', default: 1, help: 'pace at X times real time, 0 < X <= 1000' },
    { name: 'loop', help: 'start over at the end, until interrupted' },
    { name: 'times', arg: 'N', default: 1, max: 1_000_000, help: 'play the file N times' },
  ],
  examples: [
    'rinse replay capture.flv rtmp://127.0.0.1/live/user1/stream1',
    'rinse replay --loop --speed 2 capture.flv rtmp://127.0.0.1/live/user1/stream1',
  ],
  exit: '0 sent, 2 error (refused, connection lost)',
};

export const CONFIG_HELP: CommandHelp = {
  usage: 'rinse config check [--config FILE] [serve options]',
  about: [
    'Prints the effective `rinse serve` settings in config-file form, each with where it came from',
    '(a flag, an environment variable, the config file or the default), secrets and stream keys',
    'redacted. It takes the options of rinse serve (rinse serve --help) and refuses the same values.',
  ],
  flags: [],
  examples: ['rinse config check --config rinse.yml', 'RINSE_GRACE_MS=20000 rinse config check --stall-ms 8000'],
  exit: '0 valid, 2 a bad setting (the message names it and where it came from)',
};

export const BENCH_HELP: CommandHelp = {
  usage: 'rinse bench [--quick]',
  about: [
    'Runs the benchmarks from a source checkout with its dev dependencies (bench/run.ts): added',
    'latency, cost per stream and scale against ffmpeg, offline throughput; writes bench/results.',
  ],
  flags: [{ name: 'quick', help: 'the short run that CI does' }],
  examples: ['rinse bench --quick'],
  exit: '0 ran (whatever the figures), 1 could not run, 2 not a source checkout',
};

/** util.parseArgs options for a command's flags, `--help` included. */
export function parseOptionsOf(
  help: CommandHelp,
  hidden: Record<string, { type: 'string' | 'boolean' }> = {},
): Record<string, { type: 'string' | 'boolean' }> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { ...hidden, help: { type: 'boolean' } };
  for (const f of help.flags) options[f.name] = { type: f.arg === undefined ? 'boolean' : 'string' };
  return options;
}

/** A whole-number flag's value, its default when not given. */
export function intFlag(help: CommandHelp, name: string, value: string | undefined): number {
  const flag = help.flags.find((f) => f.name === name);
  if (flag?.default === undefined) throw new Error(`no whole-number flag --${name}`);
  if (value === undefined) return flag.default;
  const max = flag.max ?? 0x7fffffff;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: expected a whole number, got "${value}"`);
  const n = Number(value);
  if (n < 1 || n > max) throw new UsageError(`--${name}: expected 1..${max}, got ${n}`);
  return n;
}

/** A command's `--help`: usage, what it does, its flags with defaults, examples, exit codes. */
export function formatHelp(help: CommandHelp): string {
  const flags = help.flags.map((f) => ({ ...f, left: `--${f.name}${f.arg === undefined ? '' : ` ${f.arg}`}` }));
  const width = Math.max(16, ...flags.map((f) => f.left.length)) + 2;
  const lines = [`usage: ${help.usage}`, '', ...help.about, ''];
  if (flags.length > 0) {
    lines.push('options:');
    for (const f of flags) {
      const range = f.arg === 'N' ? ` (1..${f.max ?? 0x7fffffff})` : '';
      const dflt = f.default === undefined ? '' : `; default ${f.default}`;
      lines.push(`  ${f.left.padEnd(width)}${f.help}${range}${dflt}`);
      if (f.more !== undefined) lines.push(`  ${''.padEnd(width)}${f.more}`);
    }
    lines.push(`  ${'--help'.padEnd(width)}this help`, '');
  }
  lines.push(help.examples.length === 1 ? 'example:' : 'examples:', ...help.examples.map((e) => `  ${e}`), '');
  lines.push(`exit code: ${help.exit}`);
  return `${lines.join('\n')}\n`;
}
