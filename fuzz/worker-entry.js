// Worker threads do not inherit the TypeScript loader: load the worker through tsx's own API.
import { tsImport } from 'tsx/esm/api';

await tsImport('./worker.ts', import.meta.url);
