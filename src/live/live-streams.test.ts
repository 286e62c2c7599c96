/** LiveStreamRegistry on synthetic frames: late joiners start clean, replacement, limits, cleanup. */
import { describe, expect, it } from 'vitest';
import { buildAacAudioTagBody, buildAvcVideoTagBody } from '../flv/flv-tag.js';
import type { MediaFrame } from '../media/tag-kinds.js';
import type { StreamPublisher, StreamSubscriber } from '../rtmp/stream-hub.js';
import { LiveStreamRegistry } from './live-streams.js';

const videoBody = (key: boolean, header = false): Buffer =>
  buildAvcVideoTagBody({
    frameType: key ? 1 : 2,
    packetType: header ? 0 : 1,
    compositionTimeMs: 0,
    data: Buffer.alloc(8),
  });
const audioBody = (header = false): Buffer =>
  buildAacAudioTagBody({ packetType: header ? 0 : 1, data: Buffer.alloc(4) });

function publisher(id: string): StreamPublisher & { replacedBy: string[] } {
  const replacedBy: string[] = [];
  return { id, replacedBy, replaced: (by) => replacedBy.push(by), endStalled: () => undefined };
}

function recorder(): StreamSubscriber & { frames: MediaFrame[]; events: string[] } {
  const frames: MediaFrame[] = [];
  const events: string[] = [];
  return {
    frames,
    events,
    onFrame: (f) => frames.push(f),
    onPublishStart: () => events.push('start'),
    onPublishEnd: () => events.push('end'),
  };
}

describe('LiveStreamRegistry', () => {
  it('gives a late subscriber metadata, sequence headers and the GOP from the latest keyframe, then live frames', () => {
    const reg = new LiveStreamRegistry();
    const live = reg.publish('live/u/s', publisher('p1'));
    live.pushMetadata(0, Buffer.from('meta'));
    live.pushMedia('video', 0, videoBody(true, true));
    live.pushMedia('audio', 0, audioBody(true));
    live.pushMedia('video', 0, videoBody(true));
    live.pushMedia('video', 33, videoBody(false));
    live.pushMedia('video', 66, videoBody(true));
    live.pushMedia('audio', 70, audioBody());
    const late = recorder();
    reg.subscribe('live/u/s', late);
    expect(late.events).toEqual(['start']);
    expect(
      late.frames.map((f) => `${f.kind}:${f.timestampMs}:${f.isSequenceHeader ? 'h' : f.isKeyframe ? 'k' : '-'}`),
    ).toEqual(['data:0:-', 'video:0:h', 'audio:0:h', 'video:66:k', 'audio:70:-']);
    live.pushMedia('video', 100, videoBody(false));
    expect(late.frames.at(-1)?.timestampMs).toBe(100);
  });

  it('a new publisher on the path replaces the old one and clears the caches', () => {
    const reg = new LiveStreamRegistry();
    const first = publisher('p1');
    const live = reg.publish('live/u/s', first);
    live.pushMedia('video', 0, videoBody(true));
    const sub = recorder();
    reg.subscribe('live/u/s', sub);
    reg.publish('live/u/s', publisher('p2'));
    expect(first.replacedBy).toEqual(['p2']);
    expect(sub.events).toEqual(['start', 'end', 'start']);
    expect(reg.get('live/u/s')?.snapshot()).toEqual([]);
  });

  it('drops a GOP over its frame limit until the next keyframe', () => {
    const reg = new LiveStreamRegistry({ maxGopFrames: 2 });
    const live = reg.publish('live/u/s', publisher('p1'));
    live.pushMedia('video', 0, videoBody(true));
    live.pushMedia('video', 33, videoBody(false));
    live.pushMedia('video', 66, videoBody(false));
    expect(live.snapshot()).toEqual([]);
    live.pushMedia('video', 100, videoBody(true));
    expect(live.snapshot().map((f) => f.timestampMs)).toEqual([100]);
  });

  it('forgets a path with neither publisher nor subscribers', () => {
    const reg = new LiveStreamRegistry();
    const p = publisher('p1');
    reg.publish('live/u/s', p);
    expect(reg.publishedPaths()).toEqual(['live/u/s']);
    reg.unpublish('live/u/s', p);
    expect(reg.publishedPaths()).toEqual([]);
    expect(reg.get('live/u/s')).toBeUndefined();
  });
});
