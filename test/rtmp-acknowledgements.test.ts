/**
 * The RTMP client keeps what the server acknowledged (§5.4.3), which the upstream's stall
 * detection and resume point rest on: against rinse's own server on 127.0.0.1, with a small
 * announced window, the acknowledged count trails what was written by at most a window.
 */
import { describe, expect, it } from 'vitest';
import { RtmpClient } from '../src/rtmp/client.js';
import { startTestServer, waitFor } from './support/server.js';

const WINDOW = 64 * 1024;

describe('RtmpClient acknowledgements', () => {
  it('tracks the bytes the server acknowledged, from the end of the handshake', async () => {
    const server = await startTestServer();
    const client = await RtmpClient.connect(server.url('live/acks/one'), { windowAckBytes: WINDOW });
    try {
      expect(client.bytesAcknowledged).toBeNull();
      await client.publish();
      const frame = Buffer.concat([Buffer.from([0x27, 1, 0, 0, 0]), Buffer.alloc(8000, 7)]);
      for (let i = 0; i < 100; i++) client.sendMedia('video', i * 33, frame);
      await waitFor(() => (client.bytesAcknowledged ?? 0) > 700_000, 10_000, 'the acknowledgements');
      const acked = client.bytesAcknowledged!;
      expect(acked).toBeLessThanOrEqual(client.bytesWritten);
      expect(client.bytesWritten - acked).toBeLessThanOrEqual(WINDOW + frame.length + 64);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
