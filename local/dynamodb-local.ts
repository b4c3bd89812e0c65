/**
 * DynamoDB Local for development and tests: fetched once into a user cache, started as a JVM on a free port.
 *
 * The public entry; the work is done in `./dynamodb/`:
 * - `fetch.ts`: fetch the jar (an `npm pack` of `amplify-dynamodb-simulator`, pinned and checksummed) into the cache;
 * - `java.ts`: check for a Java 17+ runtime;
 * - `launch.ts`: start the JVM and wait for it to answer;
 * - `reaper.ts`: stop it, and kill live JVMs when this process exits or is signalled;
 * - `helpers.ts`: running a command, trimming its output.
 */
export { ensureDynamoDbLocal } from './dynamodb/fetch';
export { type CheckJavaOptions, checkJava } from './dynamodb/java';
export { type DynamoDbLocal, type DynamoDbLocalOptions, startDynamoDbLocal } from './dynamodb/launch';
