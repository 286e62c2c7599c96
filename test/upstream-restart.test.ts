/**
 * The upstream goes away and comes back, with real processes on 127.0.0.1: an ffmpeg
 * receiver is SIGKILLed 5 s into a 15 s live stream and a new one listens on the same port
 * 1 s or 5 s later (connections are refused meanwhile). The relay must publish again within
 * 1 s of the return, and every video frame the publisher sent must reach the receivers
 * (judged over the union of both runs, each run in order with its DTS increasing).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverageLine, frameCoverage, videoFrames, expectCleanRuns } from './support/frame-coverage.js';
import { expectDecodes } from './support/judges.js';
import { startLivePublisher, testEncode } from './support/media.js';
import { expectReceiverClean, freePort, startReceiver, startRinse } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-restart-'));

/** The issue's bound: publishing again within 1 s of the receiver's return; the margin is for a loaded CI host. */
const BACK_WITHIN_MS = 1000;
const MARGIN_MS = 500;

describe('upstream restart', () => {
  for (const outageMs of [1000, 5000]) {
    it(`receiver killed at 5 s and back ${outageMs / 1000} s later: publishing again within 1 s, every video frame delivered`, async () => {
      const source = await testEncode({
        size: '1280x720',
        fps: 30,
        seconds: 15,
        videoBitrate: '2500k',
        gop: 60,
        preset: 'superfast',
      });
      const port = await freePort();
      const before = join(dir, `before-${outageMs}.flv`);
      const after = join(dir, `after-${outageMs}.flv`);
      const receiverA = startReceiver(before, port);
      const relay = await startRinse(['--target', receiverA.url, '--grace-ms', '300']);
      let restartedAt = 0;
      let resumedAt = 0;
      let resumeFromMs = -1;
      try {
        const publisher = startLivePublisher(source, `rtmp://127.0.0.1:${relay.port}/live/glasses/restart`, 60_000);
        const first = await relay.waitForLog((l) => l.msg === 'upstream publishing', 'the first upstream session');
        await new Promise((r) => setTimeout(r, 5000 - (Date.now() - Number(first.time))));
        receiverA.child.kill('SIGKILL');
        await receiverA.done;
        await new Promise((r) => setTimeout(r, outageMs));
        const receiverB = startReceiver(after, port);
        restartedAt = Date.now();
        const resumed = await relay.waitForLog(
          (l) => l.msg === 'upstream publishing' && Number(l.connects) === 2,
          'the second upstream session',
          30_000,
        );
        resumedAt = Number(resumed.time);
        resumeFromMs = Number(resumed.resumeFromMs);
        expect((await publisher.done).code).toBe(0);
        expectReceiverClean(await receiverB.done, 'receiver B');
      } finally {
        receiverA.kill();
        await relay.stop();
      }
      const coverage = frameCoverage(source, [before, after]);
      console.log(
        `${coverageLine(`receiver back after ${outageMs} ms`, coverage)}; publishing again ${resumedAt - restartedAt} ms after the return`,
      );
      expectCleanRuns(coverage);
      expect(resumedAt - restartedAt).toBeLessThanOrEqual(BACK_WITHIN_MS + MARGIN_MS);
      // The new session starts at a keyframe, on the wire at that frame's own time (or the audio
      // frame just ahead of it): the timeline continues, it does not restart.
      const keyframeMs = videoFrames(source)[coverage.runs[1]!.first]!.dtsMs;
      expect(videoFrames(after)[0]?.keyframe).toBe(true);
      expect(keyframeMs - resumeFromMs).toBeGreaterThanOrEqual(-2);
      expect(keyframeMs - resumeFromMs).toBeLessThanOrEqual(50);
      await expectDecodes(after);
    });
  }
});
