/**
 * Per-address admission: how many connections one remote address may hold at once, and how
 * many new ones it may open per second. One host flooding the port (or a slowloris) then
 * uses up its own share, not `maxConnections` for everyone.
 */
import { RtmpErrorCode } from './errors.js';

export interface AddressLimits {
  /** Concurrent connections from one address (0: no cap). */
  maxConnectionsPerAddress: number;
  /** New connections from one address within any one second (0: no cap). */
  maxNewConnectionsPerSecond: number;
}

/** One-second window of the new-connection rate, in ms. */
const RATE_WINDOW_MS = 1000;

export type AddressRefusal = { code: string; reason: string };

/** Past this many tracked addresses, idle entries are swept on admission (memory stays bounded). */
const SWEEP_AT_ADDRESSES = 4096;

interface AddressState {
  open: number;
  windowStartMs: number;
  newInWindow: number;
  /** The window whose first refusal was logged (floods log once a window per address). */
  loggedWindowStartMs: number;
}

export class AddressGate {
  private readonly addresses = new Map<string, AddressState>();

  constructor(private readonly limits: AddressLimits) {}

  /** Addresses with open connections or a recent window. */
  get trackedAddresses(): number {
    return this.addresses.size;
  }

  /** Admit a new connection from `address` (counted until {@link release}), or say why not. */
  admit(address: string, nowMs = Date.now()): AddressRefusal | null {
    if (this.addresses.size >= SWEEP_AT_ADDRESSES) this.sweep(nowMs);
    let state = this.addresses.get(address);
    if (state === undefined) {
      state = { open: 0, windowStartMs: nowMs, newInWindow: 0, loggedWindowStartMs: -1 };
      this.addresses.set(address, state);
    }
    if (nowMs - state.windowStartMs >= RATE_WINDOW_MS) {
      state.windowStartMs = nowMs;
      state.newInWindow = 0;
    }
    const { maxConnectionsPerAddress: maxOpen, maxNewConnectionsPerSecond: maxRate } = this.limits;
    if (maxRate > 0 && state.newInWindow >= maxRate) {
      return { code: RtmpErrorCode.ADDRESS_RATE, reason: `more than ${maxRate} new connections in a second` };
    }
    state.newInWindow++;
    if (maxOpen > 0 && state.open >= maxOpen) {
      return { code: RtmpErrorCode.ADDRESS_LIMIT, reason: `${maxOpen} connections already open from this address` };
    }
    state.open++;
    return null;
  }

  /** A connection admitted from `address` closed. */
  release(address: string): void {
    const state = this.addresses.get(address);
    if (state !== undefined) state.open = Math.max(0, state.open - 1);
  }

  /** Whether to log a refusal of `address`: the first in each window is, the rest are only counted. */
  shouldLogRefusal(address: string): boolean {
    const state = this.addresses.get(address);
    if (state === undefined || state.loggedWindowStartMs === state.windowStartMs) return false;
    state.loggedWindowStartMs = state.windowStartMs;
    return true;
  }

  /** Forget addresses with nothing open whose window has passed. */
  sweep(nowMs = Date.now()): void {
    for (const [address, state] of this.addresses) {
      if (state.open === 0 && nowMs - state.windowStartMs >= RATE_WINDOW_MS) this.addresses.delete(address);
    }
  }
}
