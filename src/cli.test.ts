/**
 * Every command's `--help` (usage, flags with defaults, an example; exit 0), the command list,
 * and unknown flags still refused. Run in a process of its own through tsx (so exit codes and
 * output are the real ones), and in-process for the details.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './cli.js';
import { DEFAULT_FIXER_OPTIONS } from './fixer/stream-fixer.js';
import { INSPECT_HELP, REPLAY_HELP, fixHelp, type CommandHelp } from './cli-help.js';
import { SETTING_NAMES, settingSpec } from './settings.js';

const ROOT = resolve(import.meta.dirname, '..');

/** `rinse <args>` in a process of its own. */
function rinse(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      'const { main } = await import("./src/cli.ts"); process.exitCode = await main(JSON.parse(process.env.RINSE_ARGS));',
    ],
    { cwd: ROOT, env: { ...process.env, RINSE_ARGS: JSON.stringify(args) }, encoding: 'utf8', timeout: 30_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `main(args)` in this process, its output captured. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const code = await main(args);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

/** Each flag of the command is listed, with its default where it has one. */
function expectFlagsListed(text: string, help: CommandHelp): void {
  for (const f of help.flags) {
    const line = text.split('\n').find((l) => l.startsWith(`  --${f.name}`));
    expect(line, `--${f.name}`).toBeDefined();
    if (f.default !== undefined) expect(line).toContain(`default ${f.default}`);
  }
}

describe('rinse <command> --help (a process of its own)', () => {
  for (const [command, help] of [
    ['fix', fixHelp(DEFAULT_FIXER_OPTIONS)],
    ['inspect', INSPECT_HELP],
    ['replay', REPLAY_HELP],
  ] as const) {
    it(`rinse ${command} --help: usage, flags with defaults, an example, exit 0`, () => {
      const r = rinse([command, '--help']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: rinse ${command} `));
      expectFlagsListed(r.stdout, help);
      expect(r.stdout).toMatch(new RegExp(`^examples?:\\n  rinse ${command} `, 'm'));
      expect(r.stdout).toMatch(/^exit code: /m);
    });
  }

  it('rinse --help lists the commands, exit 0; no command: the same list, exit 2', () => {
    const r = rinse(['--help']);
    expect(r.code).toBe(0);
    for (const command of ['serve', 'inspect', 'fix', 'replay', 'config', 'bench'])
      expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(r.stdout).toMatch(/rinse serve options/);
    const none = rinse([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe(r.stdout);
  });

  it('an unknown flag is still refused, exit 2', () => {
    for (const command of ['fix', 'inspect', 'replay', 'serve']) {
      const r = rinse([command, '--bogus']);
      expect(r.code, command).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^rinse ${command}: Unknown option '--bogus'`));
    }
  });
});

describe('rinse <command> --help (in process)', () => {
  it('fix --help shows the fixer defaults', async () => {
    const r = await run(['fix', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`default ${DEFAULT_FIXER_OPTIONS.reorderWindowMs}`);
    expect(r.stdout).toContain(`default ${DEFAULT_FIXER_OPTIONS.maxKeyframeIntervalMs}`);
    expect(r.stdout).toMatch(/--no-idr-demotion/);
  });

  it('serve --help lists every setting with its env name and default', async () => {
    const r = await run(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: rinse serve /);
    for (const name of SETTING_NAMES) {
      const spec = settingSpec(name);
      expect(r.stdout).toContain(`--${spec.flag} ${spec.arg}`);
      if (spec.env !== null) expect(r.stdout).toContain(`env ${spec.env}`);
    }
    expect(r.stdout).toMatch(/^examples:\n {2}rinse serve /m);
  });

  it('config --help and config check --help explain config check; bench --help does not run the bench', async () => {
    for (const args of [
      ['config', '--help'],
      ['config', 'check', '--help'],
      ['bench', '--help'],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: rinse ${args[0]} `));
    }
  });

  it('bad values keep their messages', async () => {
    expect(await run(['inspect', '--seconds', '0', 'x.flv'])).toMatchObject({
      code: 2,
      stderr: 'rinse inspect: --seconds: expected 1..3600, got 0\n',
    });
    expect(await run(['fix', '--reorder-window-ms', 'soon', 'a.flv', 'b.flv'])).toMatchObject({
      code: 2,
      stderr: 'rinse fix: --reorder-window-ms: expected a whole number, got "soon"\n',
    });
    expect(await run(['replay', '--speed', '0', 'a.flv', 'rtmp://h/a/b'])).toMatchObject({
      code: 2,
      stderr: 'rinse replay: --speed: expected a number in (0, 1000], got "0"\n',
    });
    expect(await run(['config', 'check', '--stall-ms', '5'])).toMatchObject({
      code: 2,
      stderr: 'rinse config: --stall-ms: expected 100..3600000, got 5\n',
    });
  });
});
