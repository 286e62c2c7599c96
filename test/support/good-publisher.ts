/**
 * A good publisher beside hostile input: FFmpeg publishing the test encode in real time to
 * `live/good/publisher` on an in-process server, with a recorder of what arrived and the
 * counts that must arrive.
 */
import { probePackets, startLivePublisher, testEncode, type FfmpegProcess } from './media.js';
import { FrameRecorder, waitFor, type TestServer } from './server.js';

export const GOOD_PATH = 'live/good/publisher';

export interface GoodPublisher {
  readonly ffmpeg: FfmpegProcess;
  readonly recorder: FrameRecorder;
  /** Packets in the source: every one must arrive. */
  readonly expectedVideo: number;
  readonly expectedAudio: number;
}

/** Start it and wait until it streams. */
export async function startGoodPublisher(srv: TestServer): Promise<GoodPublisher> {
  const source = await testEncode();
  const probed = await probePackets(source);
  const recorder = new FrameRecorder();
  srv.registry.subscribe(GOOD_PATH, recorder);
  const ffmpeg = startLivePublisher(source, srv.url(GOOD_PATH));
  await waitFor(() => recorder.media('video').length > 10, 10_000, 'the good publisher to start');
  return {
    ffmpeg,
    recorder,
    expectedVideo: probed.filter((p) => p.codecType === 'video').length,
    expectedAudio: probed.filter((p) => p.codecType === 'audio').length,
  };
}
