import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HandlerName } from '../contract/routes';

/** The repository root: entries, package-lock.json and tsconfig.json are found from here. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const RUNTIME = Runtime.NODEJS_22_X;
export const ARCHITECTURE = Architecture.ARM_64;

/**
 * esbuild on this machine, never Docker. The AWS SDK is bundled (not taken from the runtime) so the
 * deployed code runs the versions package-lock.json pins and the tests ran. The SDK's ES-module builds
 * (`module`, dist-es) are preferred to its CommonJS ones (`main`, dist-cjs, one file per package with
 * every command and model): esbuild then keeps only what the handlers use, which roughly halves the
 * time a cold start spends loading the bundle (bench/cold-start.bench.ts). The output stays CommonJS.
 * Source maps without the sources keep the bundle small; NODE_OPTIONS=--enable-source-maps maps stack
 * traces back to TypeScript.
 */
export const BUNDLING: BundlingOptions = {
  forceDockerBundling: false,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  target: 'node22',
  format: OutputFormat.CJS,
  mainFields: ['module', 'main'],
  externalModules: [],
  logLevel: LogLevel.WARNING,
};

interface FunctionSpec {
  /** File under lambda/handlers/ that exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  /** Concurrent executions reserved for the function (and its ceiling); undefined: none. */
  readonly reservedConcurrency?: number;
  readonly environment?: Readonly<Record<string, string>>;
  /** Asynchronous invocations (the rotation schedule) are not retried: a retry would rotate twice. */
  readonly retryAttempts?: number;
  /** Constants esbuild replaces in the bundle (BundlingOptions.define: JSON values). */
  readonly define?: Readonly<Record<string, string>>;
}

/** A function with the role and the log group that are its alone. */
export interface ServiceFunction {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
}

export interface ServiceFunctionsProps {
  /** The configuration every handler reads at cold start (lambda/config.ts configToEnv). */
  readonly environment: Readonly<Record<string, string>>;
  readonly tokenFunctionMemoryMiB: number;
  readonly tokenFunctionTimeoutSeconds: number;
  /** See TokenServiceSettings.tokenFunctionReservedConcurrency; undefined: no reservation. */
  readonly tokenFunctionReservedConcurrency?: number;
  /**
   * Whether the token function migrates users through a legacy verifier: without it, its bundle is built
   * without that code (the ROPC_LEGACY_MIGRATION constant, lambda/handlers/runtime.ts), about half its size.
   */
  readonly legacyMigration: boolean;
  readonly logRetention: RetentionDays;
  /** X-Ray active tracing on every function (CDK grants the role X-Ray's two write actions). */
  readonly tracing: boolean;
}

/**
 * One Lambda function per handler of the route table (and the key-rotation function when rotation is
 * scheduled), each with its own role (no managed policies: only what the stack grants it) and its own
 * log group (the JSON audit trail, with its EMF metrics).
 */
export class ServiceFunctions extends Construct {
  readonly functions: Readonly<Record<HandlerName, NodejsFunction>>;
  readonly roles: Readonly<Record<HandlerName, Role>>;
  readonly logGroups: Readonly<Record<HandlerName, LogGroup>>;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: ServiceFunctionsProps,
  ) {
    super(scope, id);
    const specs: Record<HandlerName, FunctionSpec> = {
      token: {
        entry: 'token.ts',
        description: 'ropc-token-service POST /token and POST /revoke',
        // scrypt decides: see TokenServiceSettings.tokenFunctionMemoryMiB.
        memoryMiB: props.tokenFunctionMemoryMiB,
        timeoutSeconds: props.tokenFunctionTimeoutSeconds,
        reservedConcurrency: props.tokenFunctionReservedConcurrency,
        define: { ROPC_LEGACY_MIGRATION: String(props.legacyMigration) },
      },
      jwks: {
        entry: 'jwks.ts',
        description: 'ropc-token-service GET /.well-known/jwks.json',
        memoryMiB: 256,
        timeoutSeconds: 10,
      },
      metadata: {
        entry: 'metadata.ts',
        description: 'ropc-token-service GET /.well-known/oauth-authorization-server',
        memoryMiB: 256,
        timeoutSeconds: 5,
      },
    };
    const built = Object.fromEntries(
      (Object.entries(specs) as [HandlerName, FunctionSpec][]).map(([name, spec]) => [name, this.build(name, spec)]),
    ) as Record<HandlerName, ServiceFunction>;
    this.functions = mapValues(built, (built) => built.fn);
    this.roles = mapValues(built, (built) => built.role);
    this.logGroups = mapValues(built, (built) => built.logGroup);
  }

  /** The scheduled key rotation (lambda/handlers/rotate-keys.ts); `environment` adds to the shared configuration. */
  addKeyRotation(environment: Readonly<Record<string, string>>): ServiceFunction {
    return this.build('rotateKeys', {
      entry: 'rotate-keys.ts',
      description: 'ropc-token-service scheduled signing-key rotation',
      memoryMiB: 256,
      // CreateKey, GetPublicKey, CreateAlias, a registry write and the deletion sweep.
      timeoutSeconds: 60,
      environment,
      retryAttempts: 0,
    });
  }

  private build(name: string, spec: FunctionSpec): ServiceFunction {
    const prefix = name.charAt(0).toUpperCase() + name.slice(1);
    const logGroup = new LogGroup(this, `${prefix}Logs`, {
      retention: this.props.logRetention,
      // The audit trail outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new Role(this, `${prefix}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ropc-token-service ${name} function`,
    });
    // What AWSLambdaBasicExecutionRole would give, on this function's log group only.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const fn = new NodejsFunction(this, `${prefix}Function`, {
      description: spec.description,
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', spec.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: ARCHITECTURE,
      memorySize: spec.memoryMiB,
      timeout: Duration.seconds(spec.timeoutSeconds),
      reservedConcurrentExecutions: spec.reservedConcurrency,
      role,
      logGroup,
      environment: { ...this.props.environment, ...spec.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: spec.define === undefined ? BUNDLING : { ...BUNDLING, define: { ...spec.define } },
      retryAttempts: spec.retryAttempts,
      tracing: this.props.tracing ? Tracing.ACTIVE : undefined,
    });
    return { fn, role, logGroup };
  }
}

function mapValues<K extends string, A, B>(record: Record<K, A>, map: (value: A) => B): Record<K, B> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value as A)])) as Record<K, B>;
}
