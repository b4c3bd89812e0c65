/**
 * Environment variables that more than one layer names (the stack sets them, the functions read them).
 * The service configuration's own variables are in lambda/config.ts (configToEnv, configFromEnv).
 */

/** The `service` field and metric dimension: the stack name on AWS, so two stacks' metrics stay apart. */
export const SERVICE_NAME_ENV = 'SERVICE_NAME';

/** Set by the stack for the scheduled rotation: the propagation period of its rotations (seconds). */
export const ROTATION_PROPAGATION_ENV = 'ROTATION_PROPAGATION_SECONDS';

/** A directory: SDK clients made for a principal record their calls there (lambda/adapters/sdk-call-log.ts). */
export const SDK_CALL_LOG_ENV = 'ROPC_SDK_CALL_LOG';
