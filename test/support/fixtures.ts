/**
 * Test helper: the generated fixture corpus (made once, in a beforeAll) and a lookup of a
 * fixture's file by name.
 */
import { beforeAll } from 'vitest';
import { ensureFixtures, type FixtureFile } from '../../fixtures/generate.js';

/** Registers the beforeAll that generates what is missing; returns `name -> file path`. */
export function useFixtures(): (name: string) => string {
  let manifest: FixtureFile[] = [];
  beforeAll(async () => {
    manifest = await ensureFixtures();
  }, 600_000);
  return (name) => {
    const found = manifest.find((f) => f.name === name);
    if (!found) throw new Error(`no fixture named ${name}`);
    return found.file;
  };
}
