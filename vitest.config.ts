import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Integration tests start real sshd, FUSE mounts, php-cgi and Chromium: give them time, and run test files in
// separate processes so a FUSE mount served by one file's event loop never blocks another file.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default', './test/harness/plain-summary-reporter.ts'],
    // devmount processes the tests start keep their disk caches out of the user's ~/.cache.
    env: { XDG_CACHE_HOME: join(tmpdir(), 'devmount-test-xdg-cache') },
  },
});
