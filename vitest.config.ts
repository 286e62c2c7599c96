import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Socket/process tests spawn real ffmpeg; keep them bounded but not flaky on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Every file: no rinse process printed a test stream key or token.
    setupFiles: ['test/support/no-secrets.ts'],
  },
});
