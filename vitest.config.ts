import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The client programs' suite has its own server: npm run test:clients (vitest.clients.config.ts).
    exclude: ['test/clients/**', 'node_modules/**'],
    // One embedded PostgreSQL for the whole run; each test file makes its own database.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
