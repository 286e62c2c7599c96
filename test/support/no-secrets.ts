/**
 * Setup for every test file: after the file's tests, no rinse process started through
 * test/support/processes.ts may have printed a test stream key or token.
 */
import { afterAll, expect } from 'vitest';
import { secretLeaks } from './processes.js';

afterAll(() => {
  expect(secretLeaks).toEqual([]);
});
