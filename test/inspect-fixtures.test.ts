/**
 * The fixture corpus against `rinse inspect`: every manifest pathology is found in every
 * fixture (no misses); the clean references are accepted with no findings (no false
 * alarms) and their per-tag timestamps and keyframe flags agree with ffprobe; every
 * fixture survives FLV read -> write byte for byte.
 */
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { inspectFile } from '../src/inspect/inspect-source.js';
import { FIXTURES } from '../fixtures/manifest.js';
import { buildFixture, ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { probePackets } from './support/media.js';

const BIN = resolve(import.meta.dirname, '../bin/rinse.js');

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

describe('fixture corpus and rinse inspect', () => {
  let manifest: FixtureFile[];
  beforeAll(async () => {
    manifest = await ensureFixtures();
  }, 600_000);

  it('has at least 16 fixtures, each naming its pathologies and whether remux fixes it', () => {
    expect(manifest.length).toBeGreaterThanOrEqual(16);
    expect(manifest.filter((f) => f.pathologies.length === 0).map((f) => f.name)).toEqual(['clean-720p30', 'clean-540x960-14']);
    for (const f of manifest) expect(['yes', 'no', 'poc', 'n/a']).toContain(f.remux);
  });

  for (const spec of FIXTURES) {
    it(`${spec.name}: inspect finds ${spec.pathologies.length ? spec.pathologies.join(', ') : 'nothing (clean)'}`, async () => {
      const file = manifest.find((f) => f.name === spec.name) as FixtureFile;
      const report = await inspectFile(file.file);
      const found = report.findings.map((f) => f.kind);
      if (spec.pathologies.length === 0) {
        expect(found).toEqual([]);
        expect(report.verdict.accept).toBe(true);
      } else {
        for (const p of spec.pathologies) expect(found, `${spec.name} misses ${p}`).toContain(p);
      }
      expect(report.tags.unparsed).toBe(0);
      if (spec.video.codec === 'h264' && !spec.pathologies.includes('avc-sequence-header-missing')) {
        expect(report.video?.width).toBe(spec.video.width);
        expect(report.video?.height).toBe(spec.video.height);
      }
    });

    it(`${spec.name}: FLV read -> write is byte-identical`, () => {
      const file = manifest.find((f) => f.name === spec.name) as FixtureFile;
      const bytes = readFileSync(file.file);
      const { header, tags } = readFlv(bytes);
      expect(encodeFlv(header, tags).equals(bytes)).toBe(true);
    });
  }

  for (const name of ['clean-720p30', 'clean-540x960-14']) {
    it(`${name}: per-tag timestamps and keyframe flags agree with ffprobe -show_packets`, async () => {
      const file = manifest.find((f) => f.name === name) as FixtureFile;
      const report = await inspectFile(file.file, { packets: true });
      const probed = await probePackets(file.file);
      const ours = (report.packets ?? []).map((p) => `${p.type} ${p.dts} ${p.pts} ${p.keyframe}`);
      const theirs = probed.map((p) => `${p.codecType} ${p.dts} ${p.pts} ${p.keyframe}`);
      expect(ours).toEqual(theirs);
    });
  }

  it('builds every fixture deterministically (the same bytes twice)', async () => {
    for (const spec of FIXTURES.filter((f) => ['all-at-once', 'vfr', 'mixed-framing'].includes(f.name))) {
      const file = manifest.find((f) => f.name === spec.name) as FixtureFile;
      expect((await buildFixture(spec)).equals(readFileSync(file.file)), spec.name).toBe(true);
    }
  });

  it('the CLI exits 0 on accept, 1 on reject with the rules named, 2 on error; --json is JSON', async () => {
    const clean = manifest.find((f) => f.name === 'clean-720p30') as FixtureFile;
    const dirty = manifest.find((f) => f.name === 'all-at-once') as FixtureFile;
    const accepted = await runCli(['inspect', clean.file]);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/verdict\s+ACCEPT/);
    const rejected = await runCli(['inspect', dirty.file]);
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toMatch(/verdict\s+REJECT/);
    expect(rejected.stdout).toMatch(/rule: Media MUST: keyframe interval between 2 and 10 seconds/);
    const json = await runCli(['inspect', '--json', dirty.file]);
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout) as { verdict: { accept: boolean } };
    expect(parsed.verdict.accept).toBe(false);
    const missing = await runCli(['inspect', '/nonexistent/file.flv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ENOENT|no such file/);
  });
});
