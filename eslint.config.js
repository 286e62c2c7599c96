// Lint: typescript-eslint's recommended rules, no import cycles, and imports only down the
// layers of docs/architecture.md (each zone lists what a folder may import besides itself).
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** Folder -> the folders of src/ it may import (besides itself), bottom layer first. */
const MAY_IMPORT = {
  media: [],
  tools: [],
  metrics: [],
  flv: ['media'],
  rtmp: ['media'],
  fixer: ['media', 'flv'],
  live: ['media', 'flv', 'rtmp'],
  inspect: ['media', 'flv', 'fixer', 'rtmp'],
  fallback: ['media', 'flv', 'fixer', 'live'],
  relay: ['media', 'flv', 'fixer', 'live', 'fallback', 'rtmp', 'metrics', 'tools'],
  api: ['media', 'metrics', 'relay', 'rtmp', 'tools'],
  // The cloud's module: only the shared vocabulary (the publish token it signs).
  cloud: ['media'],
};

const zones = Object.entries(MAY_IMPORT).map(([folder, allowed]) => ({
  target: `./src/${folder}`,
  from: './src',
  except: [`./${folder}`, ...allowed.map((a) => `./${a}`)],
  message: `src/${folder} may import only ${allowed.length ? allowed.join(', ') : 'nothing of ours'} (docs/architecture.md)`,
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'fixtures/generated/**', 'coverage/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver()],
      // no-cycle follows imports by parsing the files they name: .ts files need the TS parser.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
      // `{ size: _s, ...rest }` is how a property is left out.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Small units (the house style): a file under 450 lines, a function under 80, outside tests.
    files: ['src/**/*.ts', 'bench/**/*.ts', 'fixtures/**/*.ts', 'fuzz/**/*.ts', 'scripts/**/*.ts', 'bin/**/*.js'],
    ignores: ['**/*.test.ts', '**/*.test-support.ts'],
    rules: {
      'max-lines': ['error', { max: 450 }],
      'max-lines-per-function': ['error', { max: 80 }],
    },
  },
  {
    // Tests read YAML and JSON documents, which have no types.
    files: ['test/**/*.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
