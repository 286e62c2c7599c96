/**
 * Every remux-fixable fixture through the live path, with real processes on 127.0.0.1:
 *
 *   rinse replay fixture.flv -> rinse serve --target rtmp://127.0.0.1:R/live/out
 *     -> ffmpeg -listen 1 -i rtmp://127.0.0.1:R/live/out -c copy out.flv
 *
 * Each out.flv must pass the fixer issue's checks (inspect accepts; ffprobe: monotonic DTS,
 * GOPs in [2, 10] s, no step over 1 s, A/V within 500 ms; ffmpeg decodes it with no error)
 * and carry exactly the video packets `rinse fix` makes of the same file (the live relay and
 * the offline tool run the same fixer). Replays run at 4x (pacing does not change a byte),
 * three fixtures at a time.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/manifest.js';
import { fixFile } from '../src/fix-file.js';
import { ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { expectCloudflareClean } from './support/clean-checks.js';
import { probePackets } from './support/media.js';
import { freePort, runReplay, startReceiver, startRinse } from './support/processes.js';

const FIXABLE = FIXTURES.filter((f) => f.remux === 'yes' || f.remux === 'poc');

describe('relay: every remux-fixable fixture, replay -> rinse serve -> ffmpeg receiver', () => {
  let manifest: FixtureFile[];
  const dir = mkdtempSync(join(tmpdir(), 'rinse-relay-'));
  beforeAll(async () => {
    manifest = await ensureFixtures();
  }, 600_000);

  it(`covers ${FIXABLE.length} fixtures`, () => {
    expect(FIXABLE.length).toBeGreaterThanOrEqual(19);
  });

  describe.concurrent('fixtures', () => {
    for (const spec of FIXABLE) {
      it(spec.name, async () => {
        const source = (manifest.find((f) => f.name === spec.name) as FixtureFile).file;
        const out = join(dir, `${spec.name}.flv`);
        const receiverPort = await freePort();
        const receiver = startReceiver(out, receiverPort);
        const relay = await startRinse(['--target', receiver.url, '--grace-ms', '300', '--recordings-dir', join(dir, 'rec')]);
        try {
          const replay = await runReplay(source, `rtmp://127.0.0.1:${relay.port}/live/u-${spec.name}/s1`, 4);
          expect(replay.stderr).toBe('');
          expect(replay.code).toBe(0);
          const received = await receiver.done;
          expect(received.stderr).toBe('');
          expect(received.code).toBe(0);
          await relay.waitForLog((l) => l.msg === 'relay session ended', 'the relay session to end');
          // Remux-fixable: ffmpeg is never started.
          expect(relay.lines.filter((l) => l.msg === 'transcoder started')).toHaveLength(0);
          expect(relay.lines.find((l) => l.msg === 'relay session ended')?.mode).toBe('remux');
        } finally {
          receiver.kill();
          expect(await relay.stop()).toBe(0);
        }

        await expectCloudflareClean(out);
        // The same video packets, byte for byte, as the offline fixer makes of the file.
        const offline = join(dir, `${spec.name}-fix.flv`);
        await fixFile(source, offline);
        const videoHashes = async (file: string): Promise<string[]> =>
          (await probePackets(file)).filter((p) => p.codecType === 'video').map((p) => p.md5);
        const [live, fixed] = await Promise.all([videoHashes(out), videoHashes(offline)]);
        expect(live.length).toBe(fixed.length);
        expect(live).toEqual(fixed);
      });
    }
  });
});
