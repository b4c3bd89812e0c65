import { SDK_CALL_LOG_ENV } from '../../contract/environment';

/** Where this run records its SDK calls: vitest.config.ts sets SDK_CALL_LOG_ENV for every test process. */
export function sdkCallLogDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const dir = env[SDK_CALL_LOG_ENV];
  if (dir === undefined || dir === '')
    throw new Error(`${SDK_CALL_LOG_ENV} is not set: run the tests through vitest.config.ts (npm test)`);
  return dir;
}
