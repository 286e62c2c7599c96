/**
 * Every remux-fixable fixture through the live path, with real processes on 127.0.0.1:
 *
 *   rinse replay fixture.flv -> rinse serve --target rtmp://127.0.0.1:R/live/out
 *     -> ffmpeg -listen 1 -i rtmp://127.0.0.1:R/live/out -c copy out.flv
 *
 * The receiver is judged by its exit code and stderr (only TOLERATED_RECEIVER_LINES); each
 * out.flv must meet the output contract (clean-checks.ts, every FFmpeg in judges.ts), keep
 * lip sync against the clean base (lip-sync.ts, where the input is in sync) and carry
 * exactly the video packets `rinse fix` makes of the same file, by every judge's ffprobe
 * (the live relay and the offline tool run the same fixer). Replays run at 4x (pacing does
 * not change a byte), three fixtures at a time. The gap filler is off: replay paces by the
 * file's timestamps, so a jump in them (video-jump, stall) becomes a pause on the wire,
 * which the filler would fill with frames `rinse fix`, having no wall clock, cannot make
 * (test/gap-filler-live.test.ts judges the filler).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/manifest.js';
import { fixFile } from '../src/fix-file.js';
import { ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { expectCloudflareClean } from './support/clean-checks.js';
import { JUDGES } from './support/judges.js';
import { expectLipSync, fileTags, lipSyncLine, measureLipSync, trueInputTags } from './support/lip-sync.js';
import { probePackets } from './support/media.js';
import { expectReceiverClean, freePort, runReplay, startReceiver, startRinse } from './support/processes.js';

// Every fixture that needs no new keyframes: the dirty ones remux fixes and the clean ones ('n/a').
const FIXABLE = FIXTURES.filter((f) => f.remux !== 'no');

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
      it(spec.name, async ({ expect }) => {
        const source = (manifest.find((f) => f.name === spec.name) as FixtureFile).file;
        const out = join(dir, `${spec.name}.flv`);
        const receiverPort = await freePort();
        const receiver = startReceiver(out, receiverPort);
        const relay = await startRinse([
          '--target',
          receiver.url,
          '--gap-filler',
          'off',
          '--grace-ms',
          '300',
          '--recordings-dir',
          join(dir, 'rec'),
        ]);
        try {
          const replay = await runReplay(source, `rtmp://127.0.0.1:${relay.port}/live/u-${spec.name}/s1`, 4);
          expect(replay.stderr).toBe('');
          expect(replay.code).toBe(0);
          expectReceiverClean(await receiver.done);
          await relay.waitForLog((l) => l.msg === 'relay session ended', 'the relay session to end');
          // Remux-fixable: ffmpeg is never started.
          expect(relay.lines.filter((l) => l.msg === 'transcoder started')).toHaveLength(0);
          expect(relay.lines.find((l) => l.msg === 'relay session ended')?.mode).toBe('remux');
        } finally {
          receiver.kill();
          expect(await relay.stop()).toBe(0);
        }

        await expectCloudflareClean(out, { name: `relay ${spec.name}`, expect });
        const sync = measureLipSync(await trueInputTags(spec, source), fileTags(out));
        console.log(lipSyncLine(`relay ${spec.name}`, sync));
        if (spec.syncRight) expectLipSync(`relay ${spec.name}`, sync, expect);
        // The same video packets, byte for byte, as the offline fixer makes of the file (with
        // the live relay's one difference: its SPS is ready for a publisher reconnect).
        const offline = join(dir, `${spec.name}-fix.flv`);
        await fixFile(source, offline, { fixer: { seamReady: true } });
        for (const judge of JUDGES) {
          const videoHashes = async (file: string): Promise<string[]> =>
            (await probePackets(file, judge.ffprobe)).filter((p) => p.codecType === 'video').map((p) => p.md5);
          const [live, fixed] = await Promise.all([videoHashes(out), videoHashes(offline)]);
          expect.soft(live.length, `${judge.label}: video packets`).toBe(fixed.length);
          expect.soft(live, `${judge.label}: video packets = rinse fix's`).toEqual(fixed);
        }
      });
    }
  });
});
