/**
 * The settings table against everything generated from it: the example config file and the
 * README's options reference must be exactly what the table generates (`npm run
 * docs:settings` rewrites both), `rinse serve --help` names every setting, and every default
 * is the constant of the module that owns it.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { describeConfig, resolveServeConfig } from './config.js';
import { DEFAULT_FIXER_OPTIONS } from './fixer/stream-fixer.js';
import { DEFAULT_TRANSCODE_SETTINGS } from './fallback/transcoder.js';
import { DEFAULT_CLOUD_LOOKUP } from './relay/destination.js';
import { DEFAULT_RELAY_SESSION_OPTIONS } from './relay/relay-session.js';
import { DEFAULT_UPSTREAM_OPTIONS } from './relay/upstream.js';
import { DEFAULT_SERVER_LIMITS } from './rtmp/server.js';
import { SETTINGS, SETTING_NAMES, settingSpec } from './settings.js';
import {
  EXAMPLE_CONFIG_PATH,
  README_PATH,
  configCheckText,
  defaultText,
  exampleConfig,
  readmeSettingsSection,
  serveHelp,
  settingsMarkdown,
} from './settings-docs.js';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const REGENERATE = 'generated text differs from the settings table: run `npm run docs:settings`';

describe('settings docs: generated from the table, and a test fails when they drift', () => {
  it(`${EXAMPLE_CONFIG_PATH} is what the table generates`, () => {
    expect(read(EXAMPLE_CONFIG_PATH), REGENERATE).toBe(exampleConfig());
  });

  it('the README options reference (between its settings markers) is what the table generates', () => {
    // Throws "README has no settings markers" until the README has them.
    expect(readmeSettingsSection(read(README_PATH)), REGENERATE).toBe(settingsMarkdown());
  });

  it('a changed help string changes every generated text', () => {
    const before = [serveHelp(), exampleConfig(), settingsMarkdown()];
    const spec = SETTINGS.graceMs as { help: string };
    const help = spec.help;
    spec.help = `${help} (changed)`;
    try {
      const after = [serveHelp(), exampleConfig(), settingsMarkdown()];
      for (let i = 0; i < before.length; i++) expect(after[i]).not.toBe(before[i]);
    } finally {
      spec.help = help;
    }
  });

  it('rinse serve --help names every setting: flag, env, default and help', () => {
    const lines = serveHelp().split('\n');
    for (const name of SETTING_NAMES) {
      const spec = settingSpec(name);
      const at = lines.findIndex((l) => l.startsWith(`  --${spec.flag} ${spec.arg} `));
      expect(at, `--${spec.flag} in serve --help`).toBeGreaterThan(0);
      expect(lines[at]).toContain(spec.help);
      expect(lines[at + 1]).toContain(`default: ${defaultText(spec)}`);
      expect(lines[at + 1]).toContain(spec.env === null ? 'no env' : `env ${spec.env}`);
    }
  });

  it('each config key is its flag in camelCase, as the help says', () => {
    for (const name of SETTING_NAMES)
      expect(settingSpec(name).flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())).toBe(name);
  });

  it('the example config file parses to the defaults, and every setting is in it', () => {
    const defaults = resolveServeConfig({}, {});
    const file = join(ROOT, EXAMPLE_CONFIG_PATH);
    expect(resolveServeConfig({ config: file }, {}).values).toEqual(defaults.values);
    const text = read(EXAMPLE_CONFIG_PATH);
    for (const name of SETTING_NAMES) expect(text).toMatch(new RegExp(`^(# )?${name}:`, 'm'));
  });
});

describe('settings defaults: each is the owning module constant, parsed back unchanged', () => {
  it('the parsed defaults are the constants of the modules that own them', () => {
    const c = resolveServeConfig({}, {});
    const session = DEFAULT_RELAY_SESSION_OPTIONS;
    const fixer = { ...DEFAULT_FIXER_OPTIONS, ...session.fixer };
    expect(c).toMatchObject({
      graceMs: session.graceMs,
      stallMs: session.stallMs,
      captureDir: session.captureDir,
      recordingsDir: session.recordingsDir,
      transcode: session.transcode,
      transcodeStreams: session.transcodeStreams,
      targetKeyframeIntervalMs: fixer.targetKeyframeIntervalMs,
      maxKeyframeIntervalMs: fixer.maxKeyframeIntervalMs,
      reorderWindowMs: fixer.reorderWindowMs,
      upstreamQueueBytes: session.upstream.maxQueuedBytes ?? DEFAULT_UPSTREAM_OPTIONS.maxQueuedBytes,
      lookupTimeoutMs: DEFAULT_CLOUD_LOOKUP.timeoutMs,
      transcodeSettings: DEFAULT_TRANSCODE_SETTINGS,
    });
    for (const [key, value] of Object.entries(c.limits))
      expect(value, key).toBe(DEFAULT_SERVER_LIMITS[key as keyof typeof DEFAULT_SERVER_LIMITS]);
    expect(Object.keys(c.limits).length).toBe(11);
  });

  it("each setting given its own default as a flag resolves to the defaults (the table's bounds admit it)", () => {
    const defaults = resolveServeConfig({}, {}).values;
    for (const name of SETTING_NAMES) {
      const spec = settingSpec(name);
      if (spec.default === null) continue;
      expect(resolveServeConfig({ [spec.flag]: String(spec.default) }, {}).values, name).toEqual(defaults);
    }
  });
});

describe('rinse config check output', () => {
  it('lists every setting with its effective value, redacted, and where it came from', () => {
    const c = resolveServeConfig(
      { 'rtmp-port': '1936', 'api-token': 'sk-secret' },
      { RINSE_GRACE_MS: '2000', RINSE_TARGET: 'rtmps://live.example.com:443/live/stream-key' },
    );
    const text = configCheckText(c);
    expect(parse(text)).toEqual(describeConfig(c));
    expect(Object.keys(parse(text) as object)).toEqual(SETTING_NAMES);
    expect(text).not.toContain('sk-secret');
    expect(text).not.toContain('stream-key');
    expect(text).toMatch(/^rtmpPort: 1936 +# --rtmp-port$/m);
    expect(text).toMatch(/^graceMs: 2000 +# env RINSE_GRACE_MS$/m);
    expect(text).toMatch(/^apiToken: "\*\*\*" +# --api-token$/m);
    expect(text).toMatch(/^target: rtmps:\/\/live\.example\.com:443\/live\/\*\*\* +# env RINSE_TARGET$/m);
    expect(text).toMatch(/^stallMs: 5000 +# default$/m);
    expect(text).toMatch(/^apiHost: 0\.0\.0\.0 +# default$/m);
  });
});
