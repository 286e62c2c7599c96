/**
 * What the RTMP server needs of the live hub, and nothing more: a session publishes to a
 * path or plays one. The hub itself (registry, fan-out, GOP cache) lives in `live/` and is
 * handed to the server, so the protocol layer never decides what is cached or for whom.
 */
import type { MediaFrame } from '../media/tag-kinds.js';

/** What a subscriber (an RTMP player, the relay pipeline, a test) receives. */
export interface StreamSubscriber {
  /** A publisher started (or replaced the previous one) on the path. */
  onPublishStart?(path: string): void;
  /** Live frames; on join, first the stream's snapshot (metadata, sequence headers, GOP cache). */
  onFrame(frame: MediaFrame): void;
  /** The publisher left (or was replaced); the subscriber stays attached for the next one. */
  onPublishEnd?(path: string): void;
}

/** The publishing side of a path, as the hub sees it. */
export interface StreamPublisher {
  readonly id: string;
  /** The peer's address:port, when it is a network publisher. */
  readonly remoteAddress?: string;
  /**
   * A digest of the publish token it presented (never the token): a new publish with the
   * same one may replace it at once, as the same device reconnecting.
   */
  readonly credential?: string;
  /** Called when a newer publisher takes the path over. */
  replaced(byId: string): void;
  /** End the publisher's connection (a silent stall): it is expected to reconnect. */
  endStalled(silentMs: number): void;
}

/** A path a publisher holds: where its messages go. */
export interface PublishedStream {
  readonly stats: { readonly framesIn: number };
  /** A metadata (onMetaData) body, without any @setDataFrame wrapper. */
  pushMetadata(timestampMs: number, body: Buffer): void;
  pushMedia(kind: 'audio' | 'video', timestampMs: number, payload: Buffer): void;
}

/** A publish's claim on a path: granted, or refused because a live publisher holds it. */
export type PublishClaim =
  { ok: true; stream: PublishedStream } | { ok: false; silentMs: number; staleAfterMs: number };

export interface StreamHub {
  /**
   * Take the path unless a live publisher holds it: the current one is replaced (and told)
   * only when it has sent no media for the stale time or shares the newcomer's credential.
   */
  claim(path: string, publisher: StreamPublisher): PublishClaim;
  unpublish(path: string, publisher: StreamPublisher): void;
  /** Attach a subscriber; it waits on the path when nobody publishes yet. */
  subscribe(path: string, subscriber: StreamSubscriber): void;
  unsubscribe(path: string, subscriber: StreamSubscriber): void;
}
