import { describe, expect, it } from 'vitest';
import { AddressGate } from './address-limits.js';
import { RtmpErrorCode } from './errors.js';

describe('AddressGate', () => {
  it('caps concurrent connections per address, and frees a place on release', () => {
    const gate = new AddressGate({ maxConnectionsPerAddress: 2, maxNewConnectionsPerSecond: 0 });
    expect(gate.admit('a', 0)).toBeNull();
    expect(gate.admit('a', 0)).toBeNull();
    expect(gate.admit('a', 0)?.code).toBe(RtmpErrorCode.ADDRESS_LIMIT);
    expect(gate.admit('b', 0)).toBeNull();
    gate.release('a');
    expect(gate.admit('a', 0)).toBeNull();
  });

  it('limits new connections per address per second, whatever is open', () => {
    const gate = new AddressGate({ maxConnectionsPerAddress: 0, maxNewConnectionsPerSecond: 3 });
    for (let i = 0; i < 3; i++) expect(gate.admit('a', 100)).toBeNull();
    expect(gate.admit('a', 999)?.code).toBe(RtmpErrorCode.ADDRESS_RATE);
    expect(gate.admit('b', 999)).toBeNull();
    // Refused attempts do not extend the window.
    expect(gate.admit('a', 1100)).toBeNull();
  });

  it('logs the first refusal of each window only', () => {
    const gate = new AddressGate({ maxConnectionsPerAddress: 0, maxNewConnectionsPerSecond: 1 });
    gate.admit('a', 0);
    gate.admit('a', 10);
    expect(gate.shouldLogRefusal('a')).toBe(true);
    gate.admit('a', 20);
    expect(gate.shouldLogRefusal('a')).toBe(false);
    gate.admit('a', 1000);
    gate.admit('a', 1001);
    expect(gate.shouldLogRefusal('a')).toBe(true);
  });

  it('forgets addresses with nothing open once their window passed', () => {
    const gate = new AddressGate({ maxConnectionsPerAddress: 5, maxNewConnectionsPerSecond: 5 });
    gate.admit('a', 0);
    gate.admit('b', 0);
    gate.release('a');
    gate.sweep(1000);
    expect(gate.trackedAddresses).toBe(1);
    gate.release('b');
    gate.sweep(2000);
    expect(gate.trackedAddresses).toBe(0);
  });
});
