import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Every SDK call the suites make is recorded here (ROPC_SDK_CALL_LOG, lambda/adapters/sdk-call-log.ts)
 * for the authorization proof in test/iam/, which runs after them: `.test-results/sdk-calls`, or the
 * directory ROPC_SDK_CALL_LOG already names. The suites' global setup empties it at the start of a run.
 * (The config imports nothing of the project's: Vite's config loader would want file extensions.)
 */
const SDK_CALL_LOG_DIR =
  process.env.ROPC_SDK_CALL_LOG || fileURLToPath(new URL('.test-results/sdk-calls', import.meta.url));

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { ROPC_SDK_CALL_LOG: SDK_CALL_LOG_DIR },
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/iam/**'],
          // DynamoDB Local is a JVM: one instance serves the whole run, each test file uses its own tables.
          globalSetup: ['test/global-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The IAM proof evaluates what the suites recorded, so it runs once they are done.
        extends: true,
        test: { name: 'iam', include: ['test/iam/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
