import { Aws, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnSchedule } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import { configToEnv } from '../contract/config';
import { ROTATION_PROPAGATION_ENV, SERVICE_NAME_ENV } from '../contract/environment';
import { ENDPOINT_PATHS, type HandlerName, ROUTES } from '../contract/routes';
import { DEFAULTS } from '../contract/settings';
import {
  ACCESS_TOKEN_TTL_OUTPUT,
  CLIENTS_TABLE_NAME_OUTPUT,
  CUSTOM_DOMAIN_TARGET_OUTPUT,
  DASHBOARD_NAME_OUTPUT,
  ISSUER_OUTPUT,
  JWKS_URI_OUTPUT,
  KEY_ROTATION_FUNCTION_OUTPUT,
  LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  METADATA_URL_OUTPUT,
  MFA_CHALLENGES_TABLE_NAME_OUTPUT,
  MFA_KEY_ID_OUTPUT,
  REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  REVOCATION_ENDPOINT_OUTPUT,
  SCRYPT_PARAMS_OUTPUT,
  SIGNING_KEY_ALIAS_OUTPUT,
  SIGNING_KEYS_TABLE_NAME_OUTPUT,
  TOKEN_ENDPOINT_OUTPUT,
  USERS_TABLE_NAME_OUTPUT,
} from '../contract/stack-outputs';
import { type TableDefinition, USER_MFA_ATTRIBUTES, USERS_TABLE } from '../contract/tables';
import { TokenApi } from './api';
import { ServiceDashboard } from './dashboard';
import { type ServiceFunction, ServiceFunctions } from './functions';
import { MfaKey } from './mfa-key';
import { Monitoring } from './monitoring';
import { type ResolvedSettings, resolveSettings, type TokenServiceSettings } from './settings';
import { SigningKey } from './signing-key';
import { ServiceTables } from './tables';
import { WebAcl } from './waf';

export interface TokenServiceStackProps extends StackProps, TokenServiceSettings {}

type TableName = TableDefinition['name'];

/**
 * The DynamoDB actions each function's code performs, per table (lambda/adapters/*-store.ts); nothing
 * else. A refresh-token family is created with a Put and rotated with a conditional Update; a legacy
 * token (one item per token) moves into a family with TransactWriteItems, authorised as its parts: the
 * Update of the token and the Put of the family's item.
 * The functions that serve requests only read the signing-key registry; the scheduled rotation writes
 * it. test/iam/ proves every recorded call allowed and every action used.
 */
export const TABLE_ACTIONS: Readonly<Record<HandlerName, Partial<Record<TableName, readonly string[]>>>> = {
  token: {
    clients: ['dynamodb:GetItem'],
    users: ['dynamodb:GetItem'],
    refreshTokens: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    loginAttempts: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    signingKeys: ['dynamodb:Scan'],
    // The second factor: a challenge is created, read, counted and deleted by the login it completes (in
    // the TransactWriteItems that records the code's use on the user, authorised as its parts).
    mfaChallenges: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
  },
  jwks: { signingKeys: ['dynamodb:Scan'] },
  metadata: {},
};

/**
 * Item writes limited to some attributes (IAM's dynamodb:Attributes): the login's rehash replaces a user's
 * password hash, on the condition that it is still the one verified, and writes nothing else of the user.
 * test/iam/ proves the call allowed with the attribute names it was recorded with.
 */
export const ATTRIBUTE_WRITES: Readonly<
  Record<
    HandlerName,
    Partial<Record<TableName, { readonly actions: readonly string[]; readonly attributes: readonly string[] }>>
  >
> = {
  token: {
    users: {
      actions: ['dynamodb:UpdateItem'],
      // The second factor's commit: the TOTP step accepted, or a recovery code spent, while the enrollment
      // read (mfaEnrolledAt, in the condition) stands. Never the secret, the scopes or the sessionEpoch.
      attributes: [
        USERS_TABLE.partitionKey,
        'passwordHash',
        USER_MFA_ATTRIBUTES.lastStep,
        USER_MFA_ATTRIBUTES.enrolledAt,
        USER_MFA_ATTRIBUTES.recoveryCodeHashes,
      ],
    },
  },
  jwks: {},
  metadata: {},
};

/**
 * With lazy migration (legacyVerifierFunctionArn), the token function also creates users: a conditional Put
 * of the user the legacy verifier vouched for, in a TransactWriteItems with the ConditionCheck that no
 * `users import` holds its claim on the username's shard (authorised as its parts). A ConditionCheck
 * reveals no more than the GetItem the function has already. Without it, the token function writes no user.
 */
export const MIGRATION_TABLE_ACTIONS: Partial<Record<TableName, readonly string[]>> = {
  users: ['dynamodb:ConditionCheckItem', 'dynamodb:PutItem'],
};

/** The scheduled rotation reads the registry and writes it in one transaction of Puts. */
export const ROTATION_TABLE_ACTIONS: Partial<Record<TableName, readonly string[]>> = {
  signingKeys: ['dynamodb:Scan', 'dynamodb:PutItem'],
};

/** The output that names each table, for `ropc-admin --stack` (contract/stack-outputs.ts). */
const TABLE_NAME_OUTPUTS: Readonly<Record<TableName, string>> = {
  clients: CLIENTS_TABLE_NAME_OUTPUT,
  users: USERS_TABLE_NAME_OUTPUT,
  refreshTokens: REFRESH_TOKENS_TABLE_NAME_OUTPUT,
  loginAttempts: LOGIN_ATTEMPTS_TABLE_NAME_OUTPUT,
  signingKeys: SIGNING_KEYS_TABLE_NAME_OUTPUT,
  mfaChallenges: MFA_CHALLENGES_TABLE_NAME_OUTPUT,
};

/**
 * The OAuth 2.0 password-grant token service: tables, signing key, functions, REST API, WAF, alarms and
 * the outputs `ropc-admin --stack` reads. Settings are checked before anything is built.
 */
export class TokenServiceStack extends Stack {
  readonly settings: ResolvedSettings;
  readonly tables: ServiceTables;
  readonly signingKey: SigningKey;
  /** The key TOTP secrets are encrypted with (the second factor). */
  readonly mfaKey: MfaKey;
  readonly api: TokenApi;
  readonly functions: ServiceFunctions;
  readonly waf: WebAcl | undefined;
  /** The scheduled key rotation; undefined when keyRotationDays is 0. */
  readonly keyRotation: ServiceFunction | undefined;
  readonly monitoring: Monitoring;
  readonly dashboard: ServiceDashboard;
  /** `iss` of the tokens; a CloudFormation expression when derived from the API. */
  readonly issuer: string;

  constructor(scope: Construct, id: string, props: TokenServiceStackProps = {}) {
    super(scope, id, props);
    this.settings = resolveSettings(props, this.stackName);
    const settings = this.settings;

    this.tables = new ServiceTables(this, 'Tables');
    this.signingKey = new SigningKey(this, 'SigningKey', { aliasName: settings.signingKeyAlias });
    this.mfaKey = new MfaKey(this, 'MfaKey');
    this.api = new TokenApi(this, 'Api', {
      restApiName: this.stackName,
      stageName: settings.stageName,
      throttlingRateLimit: settings.throttlingRateLimit,
      throttlingBurstLimit: settings.throttlingBurstLimit,
      loggingRole: settings.apiGatewayLoggingRole,
      logRetention: settings.logRetention,
      customDomain: settings.customDomain,
      tracing: settings.tracing,
    });
    // Built from the API's id, not `restApi.url`, which would make the functions depend on the deployment
    // that depends on them.
    this.issuer =
      settings.issuer ??
      (settings.customDomain === undefined ? this.api.stageUrl : `https://${settings.customDomain.domainName}`);

    this.functions = new ServiceFunctions(this, 'Functions', {
      environment: {
        [SERVICE_NAME_ENV]: this.stackName,
        ...configToEnv({
          issuer: this.issuer,
          defaultAudience: settings.defaultAudience ?? this.issuer,
          accessTokenTtl: settings.accessTokenTtlSeconds,
          refreshTokenIdleTtl: settings.refreshTokenIdleTtlSeconds,
          refreshTokenAbsoluteTtl: settings.refreshTokenAbsoluteTtlSeconds,
          refreshTokenGraceSeconds: settings.refreshTokenGraceSeconds,
          scopesSupported: settings.scopesSupported,
          scrypt: settings.scrypt,
          lockoutPairThreshold: settings.lockoutPairThreshold,
          lockoutUserFailuresPerHour: settings.lockoutUserFailuresPerHour,
          lockoutIpFailuresPerDay: settings.lockoutIpFailuresPerDay,
          trustedProxyHops: settings.trustedProxyHops,
          tables: this.tables.names,
          signingKeyId: this.signingKey.aliasName,
          mfaKeyId: this.mfaKey.key.keyArn,
          keyCacheSeconds: DEFAULTS.keyCacheSeconds,
          ...(settings.legacyVerifierFunctionArn === undefined
            ? {}
            : { legacyVerifierFunctionArn: settings.legacyVerifierFunctionArn }),
        }),
      },
      tokenFunctionMemoryMiB: settings.tokenFunctionMemoryMiB,
      tokenFunctionTimeoutSeconds: settings.tokenFunctionTimeoutSeconds,
      tokenFunctionReservedConcurrency: settings.tokenFunctionReservedConcurrency,
      legacyMigration: settings.legacyVerifierFunctionArn !== undefined,
      logRetention: settings.logRetention,
      tracing: settings.tracing,
    });
    const { token, jwks, metadata } = this.functions.functions;
    // The functions name the key by its alias: it must exist before they can serve.
    for (const fn of [token, jwks, metadata]) fn.node.addDependency(this.signingKey.alias);

    // Least privilege: the exact item actions on the exact tables; the first key's access lives in its
    // key policy, the rotated keys' in a tag-conditioned IAM statement.
    for (const [handler, tables] of Object.entries(TABLE_ACTIONS) as [
      HandlerName,
      Partial<Record<TableName, readonly string[]>>,
    ][]) {
      for (const [table, actions] of Object.entries(tables) as [TableName, readonly string[]][]) {
        allowItemActions(this.functions.roles[handler], this.tables.tables[table], actions);
      }
      for (const [table, { actions, attributes }] of Object.entries(ATTRIBUTE_WRITES[handler]) as [
        TableName,
        { actions: readonly string[]; attributes: readonly string[] },
      ][]) {
        allowAttributeWrites(this.functions.roles[handler], this.tables.tables[table], actions, attributes);
      }
    }
    this.signingKey.allowSigning(this.functions.roles.token);
    this.mfaKey.allowDecrypt(this.functions.roles.token);
    SigningKey.allowSigningWithServiceKeys(this.functions.roles.token);
    this.signingKey.allowPublicKeyRead(this.functions.roles.jwks);
    // Both check every registry record against KMS (GetPublicKey), on keys of this stack only.
    SigningKey.allowPublicKeyReadOfServiceKeys(this.functions.roles.token);
    SigningKey.allowPublicKeyReadOfServiceKeys(this.functions.roles.jwks);
    // The metadata function reads nothing but its environment.
    if (settings.legacyVerifierFunctionArn !== undefined) this.allowMigration(settings.legacyVerifierFunctionArn);

    this.api.addRoutes(ROUTES, this.functions.functions);
    this.keyRotation = settings.keyRotationDays > 0 ? this.scheduleKeyRotation() : undefined;

    this.waf = settings.waf
      ? new WebAcl(this, 'Waf', {
          stageArn: this.api.stage.stageArn,
          rateLimit: settings.wafRateLimit,
          wellKnownRateLimit: settings.wafWellKnownRateLimit,
          rateWindowSeconds: settings.wafRateWindowSeconds,
          metricPrefix: this.stackName,
        })
      : undefined;

    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage: this.api.stage,
      functions: {
        ...this.functions.functions,
        ...(this.keyRotation === undefined ? {} : { rotateKeys: this.keyRotation.fn }),
      },
      tokenLogGroup: this.functions.logGroups.token,
      stackName: this.stackName,
      serverErrorRatePercent: settings.serverErrorRatePercent,
      passwordFailureAlarmThreshold: settings.passwordFailureAlarmThreshold,
      ipLockoutAlarmThreshold: settings.ipLockoutAlarmThreshold,
      alarmTopicArn: settings.alarmTopicArn,
    });
    this.dashboard = new ServiceDashboard(this, 'Dashboard', {
      stage: this.api.stage,
      tokenFunction: token,
      stackName: this.stackName,
    });

    this.addOutputs();
    this.acknowledgeNagFindings();
  }

  /**
   * Lazy migration: the token function may invoke the legacy verifier, that one function exactly (the ARN as
   * given: no other version, alias or function), and create the users it vouches for.
   */
  private allowMigration(verifierArn: string): void {
    const role = this.functions.roles.token;
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [verifierArn] }));
    for (const [table, actions] of Object.entries(MIGRATION_TABLE_ACTIONS) as [TableName, readonly string[]][]) {
      allowItemActions(role, this.tables.tables[table], actions);
    }
  }

  /**
   * lambda/handlers/rotate-keys.ts every keyRotationDays, through EventBridge Scheduler, without retries
   * (a failed rotation alarms; a retried one would rotate twice).
   */
  private scheduleKeyRotation(): ServiceFunction {
    const rotation = this.functions.addKeyRotation({
      [ROTATION_PROPAGATION_ENV]: String(this.settings.keyRotationPropagationSeconds),
    });
    rotation.fn.node.addDependency(this.signingKey.alias);
    for (const [table, actions] of Object.entries(ROTATION_TABLE_ACTIONS) as [TableName, readonly string[]][]) {
      allowItemActions(rotation.role, this.tables.tables[table], actions);
    }
    this.signingKey.allowRotation(rotation.role);
    SigningKey.allowManagingServiceKeys(rotation.role, this.signingKey.aliasName);
    // The scheduler may invoke this one function and nothing else (not even its versions).
    const invoker = new Role(this, 'KeyRotationSchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'EventBridge Scheduler invokes the ropc-token-service key rotation',
    });
    invoker.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [rotation.fn.functionArn] }),
    );
    new CfnSchedule(this, 'KeyRotationSchedule', {
      description: `Rotate the ropc-token-service signing key every ${this.settings.keyRotationDays} days`,
      scheduleExpression: `rate(${this.settings.keyRotationDays} days)`,
      flexibleTimeWindow: { mode: 'OFF' },
      target: { arn: rotation.fn.functionArn, roleArn: invoker.roleArn, retryPolicy: { maximumRetryAttempts: 0 } },
    });
    return rotation;
  }

  private addOutputs(): void {
    const output = (key: string, value: string, description: string) =>
      new CfnOutput(this, key, { key, value, description });
    const { N, r, p } = this.settings.scrypt;
    output(ISSUER_OUTPUT, this.issuer, 'iss of the access tokens, and the base URL of the endpoints');
    output(TOKEN_ENDPOINT_OUTPUT, `${this.issuer}${ENDPOINT_PATHS.token}`, 'POST grant_type=password | refresh_token');
    output(REVOCATION_ENDPOINT_OUTPUT, `${this.issuer}${ENDPOINT_PATHS.revocation}`, 'RFC 7009 token revocation');
    output(JWKS_URI_OUTPUT, `${this.issuer}${ENDPOINT_PATHS.jwks}`, 'RFC 7517 key set that verifies the access tokens');
    output(METADATA_URL_OUTPUT, `${this.issuer}${ENDPOINT_PATHS.metadata}`, 'RFC 8414 authorization server metadata');
    for (const [table, key] of Object.entries(TABLE_NAME_OUTPUTS) as [TableName, string][]) {
      output(key, this.tables.names[table], `DynamoDB table: ${table}`);
    }
    output(SIGNING_KEY_ALIAS_OUTPUT, this.signingKey.aliasName, 'KMS alias of the RS256 signing key');
    output(
      MFA_KEY_ID_OUTPUT,
      this.mfaKey.key.keyArn,
      'KMS key that encrypts TOTP secrets (ropc-admin users mfa enroll)',
    );
    output(
      ACCESS_TOKEN_TTL_OUTPUT,
      String(this.settings.accessTokenTtlSeconds),
      'Access-token lifetime in seconds (how long a retired key stays published)',
    );
    output(SCRYPT_PARAMS_OUTPUT, `N=${N},r=${r},p=${p}`, 'scrypt policy for new password hashes');
    output(
      DASHBOARD_NAME_OUTPUT,
      this.dashboard.dashboard.dashboardName,
      'CloudWatch dashboard: grants, refresh-token reuse, lockouts, the token function and the API',
    );
    if (this.keyRotation !== undefined) {
      output(
        KEY_ROTATION_FUNCTION_OUTPUT,
        this.keyRotation.fn.functionName,
        'Invoke to rotate the signing key now (the schedule does it every keyRotationDays)',
      );
    }
    if (this.api.domain !== undefined) {
      output(
        CUSTOM_DOMAIN_TARGET_OUTPUT,
        this.api.domain.domainNameAliasDomainName,
        'Point the custom domain (alias or CNAME) here',
      );
    }
  }

  /** cdk-nag AwsSolutions findings that are deliberate, each with its reason, on the narrowest construct. */
  private acknowledgeNagFindings(): void {
    Validations.of(this.api.restApi).acknowledge(
      {
        id: 'AwsSolutions-APIG2',
        reason:
          'The Lambda proxy receives the raw form body and the protocol core validates it per RFC 6749; API Gateway models are JSON Schema and cannot describe form posts.',
      },
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'The endpoints are public by design: clients authenticate inside the function (RFC 6749 §2.3) and the JWKS and metadata documents must be readable anonymously (RFC 7517, RFC 8414).',
      },
      {
        id: 'AwsSolutions-COG4',
        reason:
          'This service is itself the authorization server: a Cognito authorizer in front of its token endpoint would need the tokens it issues.',
      },
    );
    const loggingRole = this.api.restApi.node.tryFindChild('CloudWatchRole');
    if (loggingRole !== undefined) {
      Validations.of(loggingRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's regional logging role uses the AWS managed policy made for it, which AWS keeps in step with what the service needs.",
      });
    }
    for (const role of [this.functions.roles.token, this.functions.roles.jwks]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]`,
        reason:
          'Signing keys rotated in after deployment have ARNs unknown at synth time; the statement only applies to keys tagged as signing keys of this stack (ropc-token-service:signing-key = the stack name), in this account and region.',
      });
    }
    if (this.keyRotation !== undefined) {
      const account = 'arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>';
      Validations.of(this.keyRotation.role).acknowledge(
        {
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'KMS CreateKey has no resource to scope to, so the statement is conditioned on the request creating an RSA_2048 SIGN_VERIFY key tagged as a signing key of this stack (ropc-token-service:signing-key = the stack name)' +
            (this.settings.tracing
              ? '; with tracing on, the X-Ray PutTraceSegments and PutTelemetryRecords that CDK grants support no resource-level permissions either.'
              : '.'),
        },
        {
          id: `AwsSolutions-IAM5[Resource::${account}:key/*]`,
          reason:
            'Keys the rotation creates have ARNs unknown at synth time, so every statement on them requires the signing-key tag of this stack (tagging at creation needs TagResource on all keys, per the KMS guide).',
        },
        {
          id: `AwsSolutions-IAM5[Resource::${account}:${this.signingKey.aliasName}-*]`,
          reason:
            "Each rotated key gets a timestamped alias beside the first key's, and only aliases under that prefix may be created.",
        },
      );
    }
    Validations.of(this.functions).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The service is built and tested for nodejs22.x (Node 22 LTS, supported by Lambda into 2027), and moving to nodejs24.x is a tested upgrade rather than a silent one.',
    });
    if (this.settings.tracing) {
      // The rotation role's Resource::* acknowledgment above names X-Ray too.
      for (const role of Object.values(this.functions.roles)) {
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions, so the grant CDK adds for active tracing names every resource.',
        });
      }
    }
    if (this.waf === undefined) {
      Validations.of(this.api.restApi).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason: 'The operator turned AWS WAF off for this deployment (waf=false).',
      });
    }
  }
}

function allowItemActions(role: IRole, table: Table, actions: readonly string[]): void {
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...actions], resources: [table.tableArn] }));
}

/**
 * Item actions that may touch only `attributes`, as the DynamoDB developer guide's attribute-level policies
 * write it: every attribute the request names among them, and no Select or ReturnValues that would return
 * others.
 */
function allowAttributeWrites(
  role: IRole,
  table: Table,
  actions: readonly string[],
  attributes: readonly string[],
): void {
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: [...actions],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...attributes] },
        StringEqualsIfExists: {
          'dynamodb:Select': 'SPECIFIC_ATTRIBUTES',
          'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD', 'UPDATED_NEW'],
        },
      },
    }),
  );
}
