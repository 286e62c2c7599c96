/**
 * Everything written about the `rinse serve` settings, generated from the one table in
 * `settings.ts`: `rinse serve --help`, the `rinse config check` listing, the example config
 * file (`deploy/rinse.example.yml`) and the README's options reference (between
 * `<!-- settings:begin -->` and `<!-- settings:end -->`). `npm run docs:settings` rewrites
 * the two files; `settings.test.ts` fails when they differ from what this module generates.
 */
import { stringify } from 'yaml';
import { describeConfig, type ServeConfig } from './config.js';
import {
  SETTING_GROUPS,
  SETTING_NAMES,
  intBounds,
  settingSpec,
  type SettingGroup,
  type SettingName,
  type SettingSpec,
} from './settings.js';

/** Where the generated files live, from the repository root. */
export const EXAMPLE_CONFIG_PATH = 'deploy/rinse.example.yml';
export const README_PATH = 'README.md';
export const README_BEGIN = '<!-- settings:begin -->';
export const README_END = '<!-- settings:end -->';
const GENERATED_BY = 'generated from src/settings.ts by `npm run docs:settings`: edit the table there';

/** The settings of each group, in table order. */
function byGroup(): Array<{ title: string; note: string | null; names: SettingName[] }> {
  return (Object.keys(SETTING_GROUPS) as SettingGroup[]).map((group) => {
    const g: { title: string; note?: string } = SETTING_GROUPS[group];
    return { title: g.title, note: g.note ?? null, names: SETTING_NAMES.filter((n) => settingSpec(n).group === group) };
  });
}

/** The default as people read it: "none" for none. */
export function defaultText(spec: SettingSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  return spec.default === null || spec.default === '' ? 'none' : String(spec.default);
}

/** The values accepted, where the table limits them: "1..65535", "auto|always|never". */
export function rangeText(spec: SettingSpec): string {
  if (spec.kind === 'string') return spec.choices?.join('|') ?? '';
  if (spec.min === undefined && spec.max === undefined) return '';
  const { min, max } = intBounds(spec);
  return `${min}..${max}`;
}

function helpWithRange(spec: SettingSpec): string {
  const range = rangeText(spec);
  return range ? `${spec.help} (${range})` : spec.help;
}

/** `key: value` as YAML writes it (quoted where YAML needs it). */
function yamlLine(key: string, value: string | number | null): string {
  return stringify({ [key]: value }, { lineWidth: 0 }).trimEnd();
}

/** Lines padded to a column, so the comments after them line up (longer ones get one space). */
function withComments(rows: Array<[string, string]>, width: number): string[] {
  return rows.map(([text, comment]) => `${text.padEnd(width - 1)} # ${comment}`);
}

/** Where the help text of each option starts in `rinse serve --help`. */
const HELP_COLUMN = 35;

const SERVE_EXAMPLES = [
  'rinse serve --config rinse.yml',
  'RELAY_API_TOKEN=$TOKEN rinse serve --cloud-api-url https://cloud.example.com',
  "rinse serve --target 'rtmps://live.cloudflare.com:443/live/{streamId}' --transcode never",
];

/** `rinse serve --help`: per group, each option's flag and meaning, then its default and env name. */
export function serveHelp(): string {
  const indent = ' '.repeat(HELP_COLUMN);
  const option = (flag: string, text: string): string => `  ${flag.padEnd(HELP_COLUMN - 3)} ${text}`;
  const lines = [
    'usage: rinse serve [--config FILE] [options]',
    '',
    'Runs the relay: accepts RTMP publishes, repairs them in the container, sends them on.',
    'Every option is also a key of the --config file, the option in camelCase (--rtmp-port:',
    'rtmpPort), and where one is named an environment variable; flags win over the environment,',
    'the environment over the file. `rinse config check` prints the effective settings and',
    'where each came from.',
    '',
    option('--config FILE', 'settings file, YAML (rinse.yml) or JSON'),
    `${indent}keys and defaults as in ${EXAMPLE_CONFIG_PATH}`,
  ];
  for (const { title, note, names } of byGroup()) {
    lines.push('', `${title}:`);
    if (note !== null) lines.push(`  ${note}`);
    for (const name of names) {
      const spec = settingSpec(name);
      const env = spec.env === null ? 'no env' : `env ${spec.env}`;
      lines.push(
        option(`--${spec.flag} ${spec.arg}`, helpWithRange(spec)),
        `${indent}default: ${defaultText(spec)}; ${env}`,
      );
    }
  }
  lines.push('', 'examples:', ...SERVE_EXAMPLES.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}

/** `rinse config check`: each setting's effective value (secrets redacted) and its source. */
export function configCheckText(config: ServeConfig): string {
  const shown = describeConfig(config);
  const lines = [
    '# effective rinse serve settings (secrets redacted)',
    '# after each value, where it came from: a flag, an environment variable, the config file or the default',
  ];
  for (const { title, names } of byGroup()) {
    const rows = names.map((name): [string, string] => {
      const spec = settingSpec(name);
      const source = config.sources[name] ?? 'default';
      const where =
        source === 'flag'
          ? `--${spec.flag}`
          : source === 'env'
            ? `env ${spec.env}`
            : source === 'config'
              ? 'config file'
              : 'default';
      return [yamlLine(name, shown[name]), where];
    });
    lines.push('', `# --- ${title}`, ...withComments(rows, 34));
  }
  return `${lines.join('\n')}\n`;
}

const EXAMPLE_HEADER = [
  '# rinse.yml: every `rinse serve` setting, with its default. Use with `rinse serve --config rinse.yml`.',
  "# Environment variables (RINSE_*, plus the seed's CLOUD_API_URL and RELAY_API_TOKEN) override",
  '# this file; command-line flags override both. `rinse config check --config rinse.yml` prints',
  '# the effective settings with secrets redacted. Unknown keys and bad values stop the start',
  '# with an error naming the key. Settings with no plain default are commented out.',
  `# (${GENERATED_BY}, not this file.)`,
];

/** The example config file: every setting with its default, each under a comment saying what it does. */
export function exampleConfig(): string {
  const lines = [...EXAMPLE_HEADER];
  for (const { title, note, names } of byGroup()) {
    lines.push('', `# --- ${title}`, ...(note === null ? [] : [`# ${note}`]));
    for (const name of names) {
      const spec = settingSpec(name);
      const unset = spec.default === null || spec.default === '';
      const notes = [helpWithRange(spec)];
      if (unset) notes.push(`default: ${defaultText(spec)}`);
      if (spec.env !== null) notes.push(`env ${spec.env}`);
      lines.push(
        `# ${notes.join('; ')}`,
        unset ? `# ${yamlLine(name, spec.example ?? '')}` : yamlLine(name, spec.default),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Text in a markdown table cell: pipes escaped. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The README's options reference (the text between its settings markers). */
export function settingsMarkdown(): string {
  const lines = [
    `<!-- ${GENERATED_BY}, not this text -->`,
    '',
    'Each setting is a `rinse serve` flag, a key of the `--config` file (YAML or JSON; every key',
    `with its default: \`${EXAMPLE_CONFIG_PATH}\`) and, where one is named, an environment variable.`,
    'Flags win over the environment, the environment over the file, the file over the defaults;',
    '`rinse config check` prints the effective settings and where each came from.',
  ];
  for (const { title, note, names } of byGroup()) {
    lines.push(
      '',
      `**${cell(title)}**${note === null ? '' : `: ${cell(note)}`}`,
      '',
      '| key | flag | env | default | range | meaning |',
      '|---|---|---|---|---|---|',
    );
    for (const name of names) {
      const spec = settingSpec(name);
      const code = (t: string): string => (t && t !== 'none' ? `\`${cell(t)}\`` : '-');
      lines.push(
        `| \`${name}\` | \`--${spec.flag} ${spec.arg}\` | ${code(spec.env ?? '')} | ${code(defaultText(spec))} | ${cell(rangeText(spec))} | ${cell(spec.help)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The text between the README's settings markers; throws when it has none. */
export function readmeSettingsSection(readme: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error(`README has no settings markers (${README_BEGIN} ... ${README_END})`);
  return readme
    .slice(begin + README_BEGIN.length, end)
    .replace(/^\n/, '')
    .replace(/\n$/, '');
}

/** The README with the generated options reference between its markers. */
export function withSettingsSection(readme: string): string {
  readmeSettingsSection(readme);
  const begin = readme.indexOf(README_BEGIN) + README_BEGIN.length;
  const end = readme.indexOf(README_END);
  return `${readme.slice(0, begin)}\n${settingsMarkdown()}\n${readme.slice(end)}`;
}
