/**
 * `npm run docs:settings`: rewrites the example config file and the README's options
 * reference (between its settings markers) from the settings table (src/settings.ts).
 * src/settings.test.ts fails until this has run after a change to the table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXAMPLE_CONFIG_PATH, README_PATH, exampleConfig, withSettingsSection } from '../src/settings-docs.js';

const root = resolve(import.meta.dirname, '..');
const write = (path: string, text: string): void => {
  const file = join(root, path);
  const before = readFileSync(file, 'utf8');
  if (before === text) return void process.stdout.write(`${path}: up to date\n`);
  writeFileSync(file, text);
  process.stdout.write(`${path}: rewritten\n`);
};

write(EXAMPLE_CONFIG_PATH, exampleConfig());
write(README_PATH, withSettingsSection(readFileSync(join(root, README_PATH), 'utf8')));
