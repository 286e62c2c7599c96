/**
 * The fixture corpus against `rinse inspect`: for every fixture, the broken contract rules
 * are exactly the manifest's list (no misses, no false alarms), the pathologies behind them
 * show up as causes, and the CLI exits 0 for clean and 1 for dirty. The clean references'
 * per-tag timestamps and keyframe flags agree with ffprobe; every fixture survives FLV
 * read -> write byte for byte. The CLI tests run bin/rinse.js: build first (`npx tsc -p
 * tsconfig.build.json`).
 */
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { inspectFile } from '../src/inspect/inspect-source.js';
import { CONTRACT, ContractRule } from '../src/media/output-contract.js';
import { FIXTURES } from '../fixtures/manifest.js';
import { buildFixture, ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { probePackets } from './support/media.js';

const BIN = resolve(import.meta.dirname, '../bin/rinse.js');

/** Pathologies measured but under every rule's limit in these fixtures: no broken rule carries them. */
const BELOW_LIMITS: Record<string, string[]> = {
  'av-out-of-order': ['av-out-of-order'],
  vfr: ['irregular-cadence'],
  'sps-change': ['avc-sequence-header-changed'],
  'all-at-once': ['keyframe-flag-mismatch', 'irregular-cadence', 'av-out-of-order'],
};

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const fileOf = (manifest: FixtureFile[], name: string): string =>
  (manifest.find((f) => f.name === name) as FixtureFile).file;

describe('fixture corpus and rinse inspect', () => {
  let manifest: FixtureFile[];
  beforeAll(async () => {
    manifest = await ensureFixtures();
  }, 600_000);

  it('has at least 16 fixtures, each naming its rules, pathologies and whether remux fixes it', () => {
    expect(manifest.length).toBeGreaterThanOrEqual(16);
    const clean = manifest.filter((f) => f.rules.length === 0).map((f) => f.name);
    expect(clean).toEqual(expect.arrayContaining(['clean-720p30', 'clean-540x960-14', 'glasses-default']));
    const known = new Set<string>(Object.values(ContractRule));
    for (const f of manifest) {
      expect(['yes', 'no', 'poc', 'n/a']).toContain(f.remux);
      for (const r of f.rules) expect(known, `${f.name}: ${r}`).toContain(r);
    }
  });

  for (const spec of FIXTURES) {
    it(`${spec.name}: inspect breaks exactly ${spec.rules.length ? spec.rules.join(', ') : 'nothing (clean)'}`, async () => {
      const report = await inspectFile(fileOf(manifest, spec.name));
      const order = (r: string): number => CONTRACT.findIndex((c) => c.rule === r);
      expect(report.verdict.broken).toEqual([...spec.rules].sort((a, b) => order(a) - order(b)));
      expect(report.findings.map((f) => f.rule)).toEqual(report.verdict.broken);
      expect(report.verdict.clean).toBe(spec.rules.length === 0);
      for (const f of report.findings) {
        expect(f.severity).toBe(f.cloudflareMust ? 'reject' : 'repair');
        expect(f.count).toBeGreaterThan(0);
        expect(f.causes.length, `${spec.name}: ${f.rule} has no cause`).toBeGreaterThan(0);
      }
      const measured = [
        ...report.findings.flatMap((f) => f.causes.map((c) => c.kind)),
        ...report.notes.map((c) => c.kind),
      ];
      const expected = spec.pathologies.filter((p) => !(BELOW_LIMITS[spec.name] ?? []).includes(p));
      expect(measured, `${spec.name} misses a pathology`).toEqual(expect.arrayContaining(expected));
      expect(report.verdict.notJudged).toEqual(['lip-sync', 'live-pace', 'complete', 'decodes', 'packages']);
      expect(report.tags.unparsed).toBe(0);
      if (spec.video.codec === 'h264' && !spec.pathologies.includes('avc-sequence-header-missing')) {
        expect(report.video?.width).toBe(spec.video.width);
        expect(report.video?.height).toBe(spec.video.height);
      }
    });

    it(`${spec.name}: FLV read -> write is byte-identical`, () => {
      const bytes = readFileSync(fileOf(manifest, spec.name));
      const { header, tags } = readFlv(bytes);
      expect(encodeFlv(header, tags).equals(bytes)).toBe(true);
    });
  }

  it('low-bitrate is a note, not a broken rule; the SPS timing mismatch shows as metadata against the SPS', async () => {
    const low = await inspectFile(fileOf(manifest, 'low-bitrate'));
    expect(low.notes.map((n) => n.kind)).toContain('low-bitrate');
    const timing = await inspectFile(fileOf(manifest, 'sps-timing-mismatch'));
    expect(timing.video?.fps).toBe(15);
    expect(timing.cadence.medianIntervalMs).toBeLessThan(34);
  });

  for (const name of ['clean-720p30', 'clean-540x960-14']) {
    it(`${name}: per-tag timestamps and keyframe flags agree with ffprobe -show_packets`, async () => {
      const file = fileOf(manifest, name);
      const report = await inspectFile(file, { packets: true });
      const probed = await probePackets(file);
      const ours = (report.packets ?? []).map((p) => `${p.type} ${p.dts} ${p.pts} ${p.keyframe}`);
      const theirs = probed.map((p) => `${p.codecType} ${p.dts} ${p.pts} ${p.keyframe}`);
      expect(ours).toEqual(theirs);
    });
  }

  it('builds fixtures deterministically (the same bytes twice)', async () => {
    for (const spec of FIXTURES.filter((f) =>
      ['all-at-once', 'vfr', 'mixed-framing', 'bframes-dirty', 'clock-steps-back'].includes(f.name),
    )) {
      expect((await buildFixture(spec)).equals(readFileSync(fileOf(manifest, spec.name))), spec.name).toBe(true);
    }
  });

  it('the CLI exits 0 for every clean fixture and 1 for every dirty one', async () => {
    for (const spec of FIXTURES) {
      const result = await runCli(['inspect', fileOf(manifest, spec.name)]);
      expect(result.code, `${spec.name}: ${result.stderr}`).toBe(spec.rules.length === 0 ? 0 : 1);
      const verdict = result.stdout.split('\n')[1] ?? '';
      expect(verdict).toMatch(spec.rules.length === 0 ? /^verdict\s+CLEAN/ : /^verdict\s+NOT CLEAN/);
      for (const rule of spec.rules) {
        const must = CONTRACT.find((c) => c.rule === rule)?.cloudflareMust;
        expect(result.stdout, `${spec.name}: ${rule}`).toMatch(
          new RegExp(`^  ${must ? 'REJECT' : 'repair'} ${rule} `, 'm'),
        );
      }
    }
  }, 120_000);

  it('the CLI: --json is JSON with the verdict; a missing file is an error (exit 2)', async () => {
    const json = await runCli(['inspect', '--json', fileOf(manifest, 'all-at-once')]);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { verdict: { clean: boolean; accept: boolean; broken: string[] } };
    expect(parsed.verdict.clean).toBe(false);
    expect(parsed.verdict.accept).toBe(false);
    expect(parsed.verdict.broken).toContain('keyframe-interval');
    const missing = await runCli(['inspect', '/nonexistent/file.flv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ENOENT|no such file/);
  });
});
