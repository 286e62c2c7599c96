/** ClientCalls: transactions answered by _result/_error, one status waiter, everything rejected at the end. */
import { describe, expect, it } from 'vitest';
import { Amf0EcmaArray } from '../media/amf0.js';
import { ClientCalls, infoObject, text } from './client-calls.js';
import { RtmpErrorCode } from './errors.js';

const ended = (command: string): Error => new Error(`ended before ${command}`);

describe('ClientCalls', () => {
  it('resolves a _result and rejects an _error with the server code, by transaction id', async () => {
    const calls = new ClientCalls();
    const a = calls.transactionId();
    const b = calls.transactionId();
    expect(b).toBe(a + 1);
    const first = calls.expectResult('connect', a);
    const second = calls.expectResult('createStream', b);
    calls.answer('_error', b, ['_error', b, null, { code: 'NetConnection.Call.Failed', description: 'no' }]);
    calls.answer('_result', 99, ['_result', 99]); // nobody waits for it: ignored
    calls.answer('_result', a, ['_result', a, null, 7]);
    await expect(first).resolves.toEqual(['_result', a, null, 7]);
    await expect(second).rejects.toMatchObject({
      code: RtmpErrorCode.PEER_REJECTED,
      message: 'createStream refused: NetConnection.Call.Failed: no',
    });
  });

  it('settles a waiting publish on Publish.Start, and a play on an error status', async () => {
    const calls = new ClientCalls();
    expect(calls.status({ code: 'NetStream.Publish.Start' })).toBeNull();
    const publish = calls.waitForStatus('publish');
    expect(calls.status({ level: 'status', code: 'NetStream.Play.Reset' })).toEqual({
      command: 'publish',
      outcome: 'other',
    });
    expect(calls.status({ level: 'status', code: 'NetStream.Publish.Start' })).toEqual({
      command: 'publish',
      outcome: 'started',
    });
    await expect(publish).resolves.toBeUndefined();
    const play = calls.waitForStatus('play');
    expect(calls.status({ level: 'status', code: 'NetStream.Play.StreamNotFound', description: 'gone' })).toEqual({
      command: 'play',
      outcome: 'refused',
    });
    await expect(play).rejects.toMatchObject({ message: 'play refused: NetStream.Play.StreamNotFound: gone' });
  });

  it('rejects everything waiting when the connection ends, and every later call at once', async () => {
    const calls = new ClientCalls();
    const pending = calls.expectResult('connect', calls.transactionId());
    const waiting = calls.waitForStatus('play');
    calls.end(null, ended);
    await expect(pending).rejects.toThrow('ended before connect');
    await expect(waiting).rejects.toThrow('ended before play');
    await expect(calls.expectResult('createStream', calls.transactionId())).rejects.toThrow(
      'ended before createStream',
    );
    const withError = new ClientCalls();
    const p = withError.expectResult('connect', 1);
    withError.end(new Error('socket reset'), ended);
    await expect(p).rejects.toThrow('socket reset');
  });

  it('reads info objects in every AMF0 shape and bounds server strings', () => {
    expect(infoObject({ code: 'x' })).toEqual({ code: 'x' });
    expect(infoObject(new Amf0EcmaArray({ code: 'y' }))).toEqual({ code: 'y' });
    expect(infoObject('text')).toBeUndefined();
    expect(infoObject(null)).toBeUndefined();
    expect(text('a'.repeat(300))).toHaveLength(256);
    expect(text(5)).toBe('');
  });
});
