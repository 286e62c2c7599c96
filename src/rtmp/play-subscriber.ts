/**
 * A player's feed: one played stream of a server session, with the drop policy that keeps
 * a slow player from holding memory.
 */
import type { MediaFrame } from '../media/tag-kinds.js';
import type { StreamSubscriber } from './stream-hub.js';

/** What the feed needs of its session. */
export interface PlayerSink {
  sendMedia(streamId: number, frame: MediaFrame): boolean;
  sendPlayStatus(streamId: number, event: 'start' | 'end', path: string): void;
  /** Outbound bytes waiting in the socket. */
  readonly outboundBytes: number;
  readonly maxOutboundBytes: number;
  countDropped(): void;
}

/**
 * Feeds one played stream to its session. When the player falls behind (its socket
 * buffer passes the limit), frames are dropped up to the next keyframe, so memory stays
 * bounded and playback resumes decodable.
 */
export class PlaySubscriber implements StreamSubscriber {
  private waitForKeyframe = false;
  /** Whether the metadata/sequence-header preamble of the current publish was sent. */
  private started = false;

  constructor(
    private readonly session: PlayerSink,
    private readonly streamId: number,
  ) {}

  onPublishStart(path: string): void {
    if (this.started) this.session.sendPlayStatus(this.streamId, 'start', path);
    this.started = true;
  }

  onPublishEnd(path: string): void {
    this.session.sendPlayStatus(this.streamId, 'end', path);
  }

  onFrame(frame: MediaFrame): void {
    const critical = frame.kind === 'data' || frame.isSequenceHeader;
    if (!critical) {
      if (this.session.outboundBytes > this.session.maxOutboundBytes) this.waitForKeyframe = true;
      if (this.waitForKeyframe) {
        if (!(frame.isKeyframe && this.session.outboundBytes <= this.session.maxOutboundBytes / 2)) {
          this.session.countDropped();
          return;
        }
        this.waitForKeyframe = false;
      }
    }
    this.session.sendMedia(this.streamId, frame);
  }
}
