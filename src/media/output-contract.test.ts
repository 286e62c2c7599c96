/** The contract's written form (docs/output-contract.md) says what the code enforces. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contractTable } from './contract-table.js';
import { CONTRACT, ContractRule } from './output-contract.js';

describe('output contract', () => {
  it('has one entry per rule id', () => {
    expect(CONTRACT.map((r) => r.rule).sort()).toEqual(Object.values(ContractRule).sort());
  });

  it('docs/output-contract.md carries the table generated from the code', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../../docs/output-contract.md'), 'utf8');
    expect(doc).toContain(contractTable());
  });
});
