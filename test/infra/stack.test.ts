import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditEvent, METRICS_NAMESPACE } from '../../contract/audit-events';
import { type HandlerName, ROUTES } from '../../contract/routes';
import {
  ACCESS_TOKEN_TTL_OUTPUT,
  DASHBOARD_NAME_OUTPUT,
  JWKS_URI_OUTPUT,
  METADATA_URL_OUTPUT,
  REQUIRED_STACK_OUTPUTS,
  SCRYPT_PARAMS_OUTPUT,
} from '../../contract/stack-outputs';
import { TABLE_DEFINITIONS } from '../../contract/tables';
import { jsonLogger } from '../../lambda/adapters/logger';
import { ENV } from '../../lambda/config';
import type { LockoutReason } from '../../lambda/oauth/lockout';
import { ACCESS_LOG_FIELDS } from '../../lib/api';
import { settingsFromContext } from '../../lib/context';
import { ARCHITECTURE, RUNTIME } from '../../lib/functions';
import { IP_BUDGET_LOCKOUT, LOCKOUT_EVENT, REUSE_EVENT } from '../../lib/monitoring';
import {
  minimumTokenFunctionMemoryMiB,
  type TokenServiceSettings,
  TokenServiceSettingsError,
} from '../../lib/settings';
import { KEY_ADMINISTRATION_ACTIONS } from '../../lib/signing-key';
import {
  ATTRIBUTE_WRITES,
  ROTATION_TABLE_ACTIONS,
  TABLE_ACTIONS,
  TokenServiceStack,
} from '../../lib/token-service-stack';
import { COUNT_ONLY_RULES } from '../../lib/waf';
import {
  acknowledgments,
  CDK_JSON_CONTEXT,
  dropAcknowledgments,
  logicalId,
  type Resources,
  resourcesOfType,
  type Statement,
  type SynthesizedService,
  statements,
  synthService,
} from './support';

const HANDLERS: readonly HandlerName[] = ['token', 'jwks', 'metadata'];
/** The HTTP handlers and the scheduled key rotation. */
type FunctionName = HandlerName | 'rotateKeys';
const FUNCTIONS: readonly FunctionName[] = [...HANDLERS, 'rotateKeys'];

let service: SynthesizedService;
let functionIds: Record<FunctionName, string>;
let roleIds: Record<FunctionName, string>;
let logGroupIds: Record<FunctionName, string>;

beforeAll(() => {
  service = synthService();
  const { functions, roles, logGroups } = service.stack.functions;
  const rotation = service.stack.keyRotation!;
  functionIds = { ...mapIds(functions), rotateKeys: logicalId(rotation.fn) };
  roleIds = { ...mapIds(roles), rotateKeys: logicalId(rotation.role) };
  logGroupIds = { ...mapIds(logGroups), rotateKeys: logicalId(rotation.logGroup) };
});

function mapIds(constructs: Readonly<Record<HandlerName, IConstruct>>): Record<HandlerName, string> {
  return Object.fromEntries(HANDLERS.map((name) => [name, logicalId(constructs[name])])) as Record<HandlerName, string>;
}

/** The full path of each API Gateway resource, by logical id. */
function resourcePaths(resources: Resources): Map<string, string> {
  const paths = new Map<string, string>();
  const pathOf = (id: string): string => {
    const known = paths.get(id);
    if (known !== undefined) return known;
    const { ParentId, PathPart } = resources[id]!.Properties!;
    const parent = 'Ref' in ParentId ? pathOf(ParentId.Ref as string) : '';
    const path = `${parent}/${PathPart as string}`;
    paths.set(id, path);
    return path;
  };
  for (const id of Object.keys(resources)) pathOf(id);
  return paths;
}

/** The IAM statements attached to a role, from all of its policies. */
function roleStatements(roleId: string): Statement[] {
  const policies = resourcesOfType(service.template, 'AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => JSON.stringify(policy.Properties!.Roles).includes(`"${roleId}"`))
    .flatMap((policy) => statements(policy.Properties!.PolicyDocument));
}

function keyPolicy(): Statement[] {
  // The signing key's (the stack has the TOTP key too: test/infra/mfa-key.test.ts).
  const key = resourcesOfType(service.template, 'AWS::KMS::Key')[logicalId(service.stack.signingKey.key)];
  return statements(key!.Properties!.KeyPolicy);
}

const tableIdFor = (name: string) =>
  logicalId(service.stack.tables.tables[name as keyof typeof service.stack.tables.tables]);

describe('REST API', () => {
  it('serves every route of the shared route table, ANY method, proxied to the route’s function', () => {
    const paths = resourcePaths(resourcesOfType(service.template, 'AWS::ApiGateway::Resource'));
    const methods = Object.values(resourcesOfType(service.template, 'AWS::ApiGateway::Method'));
    const served = methods.map((method) => {
      const props = method.Properties!;
      const fn = HANDLERS.find((name) => JSON.stringify(props.Integration.Uri).includes(`"${functionIds[name]}"`));
      return {
        path: paths.get(props.ResourceId.Ref),
        method: props.HttpMethod,
        handler: fn,
        type: props.Integration.Type,
        auth: props.AuthorizationType,
      };
    });
    expect(served).toHaveLength(ROUTES.length);
    for (const route of ROUTES) {
      expect(served).toContainEqual({
        path: route.path,
        method: 'ANY',
        handler: route.handler,
        type: 'AWS_PROXY',
        auth: 'NONE',
      });
    }
  });

  it('lets CORS preflights of /token and /revoke reach the token function: ANY is their one method, no mock OPTIONS', () => {
    const paths = resourcePaths(resourcesOfType(service.template, 'AWS::ApiGateway::Resource'));
    const methods = Object.values(resourcesOfType(service.template, 'AWS::ApiGateway::Method'));
    for (const path of ['/token', '/revoke']) {
      const onPath = methods.filter((method) => paths.get(method.Properties!.ResourceId.Ref) === path);
      expect(
        onPath.map((method) => method.Properties!.HttpMethod),
        path,
      ).toEqual(['ANY']);
      const integration = onPath[0]!.Properties!.Integration;
      expect(integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(integration.Uri)).toContain(`"${functionIds.token}"`);
    }
    // No API Gateway CORS anywhere: no MOCK integration (what CDK's defaultCorsPreflightOptions adds) and
    // no method response headers of its own.
    for (const method of methods) {
      expect(method.Properties!.HttpMethod).not.toBe('OPTIONS');
      expect(method.Properties!.Integration.Type).not.toBe('MOCK');
      expect(JSON.stringify(method.Properties!.MethodResponses ?? [])).not.toContain('Access-Control');
    }
  });

  it('is regional, passes every body base64-encoded, and lets only API Gateway invoke the functions, per method', () => {
    service.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: ['*/*'],
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    const permissions = Object.values(resourcesOfType(service.template, 'AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(ROUTES.length);
    for (const permission of permissions) {
      expect(permission.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
      });
      expect(JSON.stringify(permission.Properties!.SourceArn)).toMatch(/\/\*\/[^"]+/);
    }
  });

  it('accepts TLS 1.2 and later only, and keeps its execute-api endpoint when there is no custom domain', () => {
    const [api] = Object.values(resourcesOfType(service.template, 'AWS::ApiGateway::RestApi'));
    expect(api!.Properties!.SecurityPolicy).toBe('TLS_1_2');
    expect(api!.Properties!.DisableExecuteApiEndpoint).not.toBe(true);
  });

  it('throttles the stage and logs JSON access lines without headers, bodies or credentials', () => {
    const [stage] = Object.values(resourcesOfType(service.template, 'AWS::ApiGateway::Stage'));
    const props = stage!.Properties!;
    expect(props.StageName).toBe('prod');
    expect(props.MethodSettings).toEqual([
      expect.objectContaining({
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
        DataTraceEnabled: false,
        LoggingLevel: 'ERROR',
      }),
    ]);
    const format = JSON.parse(props.AccessLogSetting.Format as string) as Record<string, string>;
    expect(format).toEqual(ACCESS_LOG_FIELDS);
    expect(Object.keys(format)).toEqual(
      expect.arrayContaining(['requestId', 'sourceIp', 'status', 'resourcePath', 'integrationError', 'wafResponse']),
    );
    for (const value of Object.values(format)) {
      expect(value).toMatch(/^\$context\./);
      expect(value).not.toMatch(/header|body|input|authorizer|apiKey|requestOverride|responseOverride/i);
    }
  });

  it('answers its own failures in the RFC 6749 error shape: 503 with Retry-After, 429, 404', () => {
    service.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'DEFAULT_5XX',
      StatusCode: '503',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.Retry-After': "'5'",
        'gatewayresponse.header.Cache-Control': "'no-store'",
      }),
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":"temporarily_unavailable"') },
    });
    service.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
    });
    service.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"error":"not_found"') },
    });
  });

  it('keeps execution logs (errors only) in a log group with the configured retention', () => {
    service.template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: logicalId(service.stack.api.restApi) }, '/prod']],
      },
      RetentionInDays: 365,
    });
    service.template.resourceCountIs('AWS::ApiGateway::Account', 1);
  });
});

describe('Lambda functions', () => {
  it('run nodejs22.x on arm64 with the token function sized for scrypt', () => {
    const functions = resourcesOfType(service.template, 'AWS::Lambda::Function');
    expect(Object.keys(functions).sort()).toEqual(FUNCTIONS.map((name) => functionIds[name]).sort());
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: RUNTIME.name,
        Architectures: [ARCHITECTURE.name],
        Handler: 'index.handler',
      });
      expect(fn.Properties!.Runtime).toBe('nodejs22.x');
      expect(fn.Properties!.Architectures).toEqual(['arm64']);
    }
    expect(functions[functionIds.token]!.Properties).toMatchObject({ MemorySize: 1769, Timeout: 10 });
    expect(functions[functionIds.token]!.Properties!.MemorySize).toBeGreaterThanOrEqual(
      minimumTokenFunctionMemoryMiB({ N: 2 ** 17, r: 8, p: 1 }),
    );
  });

  it('carry the whole configuration schema in their environment, with an issuer built from the API id (no cycle)', () => {
    const functions = resourcesOfType(service.template, 'AWS::Lambda::Function');
    const restApiId = logicalId(service.stack.api.restApi);
    for (const name of FUNCTIONS) {
      const variables = functions[functionIds[name]]!.Properties!.Environment.Variables as Record<string, unknown>;
      for (const key of Object.values(ENV).filter((key) => key !== ENV.dynamodbEndpoint && key !== ENV.kmsEndpoint)) {
        expect(variables, key).toHaveProperty(key);
      }
      expect(variables).not.toHaveProperty(ENV.dynamodbEndpoint);
      expect(variables).not.toHaveProperty(ENV.kmsEndpoint);
      expect(variables.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(variables[ENV.scrypt]).toBe('N=131072,r=8,p=1');
      expect(variables[ENV.refreshTokenGraceSeconds]).toBe('30');
      expect(variables[ENV.lockoutPairThreshold]).toBe('5');
      expect(variables[ENV.lockoutUserFailuresPerHour]).toBe('100');
      expect(variables[ENV.lockoutIpFailuresPerDay]).toBe('100');
      expect(variables[ENV.signingKeyId]).toBe('alias/ropc-token-service/RopcTokenService/signing');
      expect(variables[ENV.issuer]).toEqual({
        'Fn::Join': [
          '',
          [
            'https://',
            { Ref: restApiId },
            '.execute-api.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/prod',
          ],
        ],
      });
      for (const table of TABLE_DEFINITIONS) {
        const envName = Object.entries(variables).find(
          ([, value]) => JSON.stringify(value) === JSON.stringify({ Ref: tableIdFor(table.name) }),
        );
        expect(envName, table.name).toBeDefined();
      }
    }
  });

  it('each have their own role, log group and retention, and no AWS managed policy', () => {
    const roles = resourcesOfType(service.template, 'AWS::IAM::Role');
    for (const name of FUNCTIONS) {
      const role = roles[roleIds[name]]!;
      expect(role.Properties!.ManagedPolicyArns).toBeUndefined();
      expect(JSON.stringify(role.Properties!.AssumeRolePolicyDocument)).toContain('lambda.amazonaws.com');
      const fn = resourcesOfType(service.template, 'AWS::Lambda::Function')[functionIds[name]]!;
      expect(fn.Properties!.Role).toEqual({ 'Fn::GetAtt': [roleIds[name], 'Arn'] });
      expect(fn.Properties!.LoggingConfig).toEqual({ LogGroup: { Ref: logGroupIds[name] } });
    }
    service.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('reserve no concurrency unless told to', () => {
    for (const [id, fn] of Object.entries(resourcesOfType(service.template, 'AWS::Lambda::Function')))
      expect(fn.Properties, id).not.toHaveProperty('ReservedConcurrentExecutions');
  });

  it.each<[unknown, number]>([
    ['50', 50],
    [1, 1],
    [10_000, 10_000],
  ])('reserve context tokenFunctionReservedConcurrency=%j for the token function only', (value, reserved) => {
    const { stack, template } = synthService({ tokenFunctionReservedConcurrency: value });
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const tokenId = logicalId(stack.functions.functions.token);
    expect(functions[tokenId]!.Properties!.ReservedConcurrentExecutions).toBe(reserved);
    const others = Object.entries(functions).filter(([id]) => id !== tokenId);
    expect(others.map(([id]) => id).sort()).toEqual(
      [
        logicalId(stack.functions.functions.jwks),
        logicalId(stack.functions.functions.metadata),
        logicalId(stack.keyRotation!.fn),
      ].sort(),
    );
    for (const [id, fn] of others) expect(fn.Properties, id).not.toHaveProperty('ReservedConcurrentExecutions');
  });
});

describe('DynamoDB tables', () => {
  it('are built from the shared definitions: on-demand, string keys, PITR, TTL, deletion protection and RETAIN where defined', () => {
    const tables = resourcesOfType(service.template, 'AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(TABLE_DEFINITIONS.length);
    for (const definition of TABLE_DEFINITIONS) {
      const table = tables[tableIdFor(definition.name)]!;
      const props = table.Properties!;
      expect(props.BillingMode, definition.name).toBe('PAY_PER_REQUEST');
      expect(props.PointInTimeRecoverySpecification, definition.name).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(props.KeySchema).toEqual([
        { AttributeName: definition.partitionKey, KeyType: 'HASH' },
        ...(definition.sortKey === undefined ? [] : [{ AttributeName: definition.sortKey, KeyType: 'RANGE' }]),
      ]);
      for (const attribute of props.AttributeDefinitions as { AttributeType: string }[])
        expect(attribute.AttributeType).toBe('S');
      if (definition.ttlAttribute === undefined) {
        expect(props.TimeToLiveSpecification, definition.name).toBeUndefined();
      } else {
        expect(props.TimeToLiveSpecification, definition.name).toEqual({
          AttributeName: definition.ttlAttribute,
          Enabled: true,
        });
      }
      expect(props.DeletionProtectionEnabled ?? false, definition.name).toBe(definition.retain);
      expect(table.DeletionPolicy, definition.name).toBe(definition.retain ? 'Retain' : 'Delete');
      expect(
        (props.GlobalSecondaryIndexes ?? []).map((index: { IndexName: string; KeySchema: unknown }) => [
          index.IndexName,
          index.KeySchema,
        ]),
      ).toEqual(
        (definition.globalSecondaryIndexes ?? []).map((index) => [
          index.indexName,
          [{ AttributeName: index.partitionKey, KeyType: 'HASH' }],
        ]),
      );
    }
  });
});

describe('signing key', () => {
  it('is an RSA_2048 SIGN_VERIFY key with the service tag and an alias under the service prefix', () => {
    service.template.hasResourceProperties('AWS::KMS::Key', {
      KeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      Tags: [{ Key: 'ropc-token-service:signing-key', Value: 'RopcTokenService' }],
    });
    service.template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/ropc-token-service/RopcTokenService/signing',
      TargetKeyId: { 'Fn::GetAtt': [logicalId(service.stack.signingKey.key), 'Arn'] },
    });
  });

  it('has a key policy that lets the token function Sign (RS256 over a digest) and read the public key, the JWKS function read it, and nobody else sign', () => {
    const policy = keyPolicy();
    for (const statement of policy) {
      for (const action of statement.Action) expect(action).not.toContain('*');
      expect(statement.Effect).toBe('Allow');
    }
    const byPrincipal = (roleId: string) =>
      policy.filter(
        (statement) =>
          JSON.stringify(statement.Principal) === JSON.stringify({ AWS: { 'Fn::GetAtt': [roleId, 'Arn'] } }),
      );
    expect(
      byPrincipal(roleIds.token)
        .flatMap((statement) => statement.Action)
        .sort(),
    ).toEqual(['kms:GetPublicKey', 'kms:Sign']);
    expect(byPrincipal(roleIds.token).find((statement) => statement.Action.includes('kms:Sign'))!.Condition).toEqual({
      StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256', 'kms:MessageType': 'DIGEST' },
    });
    expect(byPrincipal(roleIds.jwks).flatMap((statement) => statement.Action)).toEqual(['kms:GetPublicKey']);
    expect(byPrincipal(roleIds.metadata)).toEqual([]);
    expect(
      byPrincipal(roleIds.rotateKeys)
        .flatMap((statement) => statement.Action)
        .sort(),
    ).toEqual(['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:GetPublicKey']);
    const account = policy.filter((statement) => JSON.stringify(statement.Principal).includes(':root'));
    expect(account.flatMap((statement) => statement.Action).sort()).toEqual([...KEY_ADMINISTRATION_ACTIONS].sort());
    expect(policy.filter((statement) => statement.Action.includes('kms:Sign'))).toHaveLength(1);
  });
});

describe('IAM', () => {
  it('grants no wildcard action anywhere, and a bare "*" resource only to kms:CreateKey, conditioned on the service tag', () => {
    for (const policy of Object.values(resourcesOfType(service.template, 'AWS::IAM::Policy'))) {
      for (const statement of statements(policy.Properties!.PolicyDocument)) {
        for (const action of statement.Action) expect(action).not.toContain('*');
        if (statement.Resource.includes('*')) {
          expect(statement.Action).toEqual(['kms:CreateKey']);
          expect(statement.Condition?.StringEquals).toMatchObject({
            'aws:RequestTag/ropc-token-service:signing-key': 'RopcTokenService',
          });
        }
      }
    }
  });

  it('gives each function exactly the DynamoDB actions its code performs, on exactly its tables', () => {
    for (const name of HANDLERS) {
      // One entry per table, action and condition: CDK merges statements that differ only in resources.
      const granted = roleStatements(roleIds[name])
        .filter((statement) => statement.Action.some((action) => action.startsWith('dynamodb:')))
        .flatMap((statement) =>
          statement.Resource.flatMap((resource) =>
            statement.Action.map((action) => JSON.stringify([resource, action, statement.Condition ?? null])),
          ),
        );
      const attributeConditions = (attributes: readonly string[]) => ({
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...attributes] },
        StringEqualsIfExists: {
          'dynamodb:Select': 'SPECIFIC_ATTRIBUTES',
          'dynamodb:ReturnValues': ['NONE', 'UPDATED_OLD', 'UPDATED_NEW'],
        },
      });
      const expected = [
        ...Object.entries(TABLE_ACTIONS[name]).flatMap(([table, actions]) =>
          actions!.map((action) => JSON.stringify([{ 'Fn::GetAtt': [tableIdFor(table), 'Arn'] }, action, null])),
        ),
        ...Object.entries(ATTRIBUTE_WRITES[name]).flatMap(([table, write]) =>
          write!.actions.map((action) =>
            JSON.stringify([
              { 'Fn::GetAtt': [tableIdFor(table), 'Arn'] },
              action,
              attributeConditions(write!.attributes),
            ]),
          ),
        ),
      ];
      expect([...granted].sort(), name).toEqual([...expected].sort());
    }
    // The login's rehash writes the password hash of a user (named by its key), the second factor's commit
    // the accepted TOTP step or a spent recovery code (under the enrollment date), and nothing else.
    expect(ATTRIBUTE_WRITES).toEqual({
      token: {
        users: {
          actions: ['dynamodb:UpdateItem'],
          attributes: ['username', 'passwordHash', 'mfaLastStep', 'mfaEnrolledAt', 'recoveryCodeHashes'],
        },
      },
      jwks: {},
      metadata: {},
    });
    expect(TABLE_ACTIONS.token).toEqual({
      clients: ['dynamodb:GetItem'],
      users: ['dynamodb:GetItem'],
      refreshTokens: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      loginAttempts: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      signingKeys: ['dynamodb:Scan'],
      mfaChallenges: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    });
    expect(TABLE_ACTIONS.jwks).toEqual({ signingKeys: ['dynamodb:Scan'] });
    expect(TABLE_ACTIONS.metadata).toEqual({});
    const rotation = roleStatements(roleIds.rotateKeys).filter((statement) =>
      statement.Action.some((action) => action.startsWith('dynamodb:')),
    );
    expect(rotation).toEqual([
      expect.objectContaining({
        Action: [...ROTATION_TABLE_ACTIONS.signingKeys!].sort(),
        Resource: [{ 'Fn::GetAtt': [tableIdFor('signingKeys'), 'Arn'] }],
      }),
    ]);
  });

  it('lets each function write only to its own log group', () => {
    for (const name of FUNCTIONS) {
      const logs = roleStatements(roleIds[name]).filter((statement) =>
        statement.Action.some((action) => action.startsWith('logs:')),
      );
      expect(logs).toEqual([
        expect.objectContaining({
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: [{ 'Fn::GetAtt': [logGroupIds[name], 'Arn'] }],
        }),
      ]);
    }
  });

  it('lets the token and JWKS functions read, and the token function Sign with, only keys carrying the service tag (RS256 over a digest)', () => {
    const kms = (name: HandlerName) =>
      roleStatements(roleIds[name]).filter((statement) => statement.Action.some((action) => action.startsWith('kms:')));
    expect(kms('metadata')).toEqual([]);
    const jwks = kms('jwks');
    expect(jwks.flatMap((statement) => statement.Action)).toEqual(['kms:GetPublicKey']);
    const token = kms('token');
    expect(token.flatMap((statement) => statement.Action).sort()).toEqual(['kms:GetPublicKey', 'kms:Sign']);
    for (const statement of [...token, ...jwks]) {
      expect(JSON.stringify(statement.Resource)).toMatch(/:kms:.*:key\/\*"\]\]\}\]$/);
      expect(statement.Condition?.StringEquals).toMatchObject({
        'aws:ResourceTag/ropc-token-service:signing-key': 'RopcTokenService',
      });
    }
    expect(token.find((statement) => statement.Action.includes('kms:Sign'))!.Condition!.StringEquals).toMatchObject({
      'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256',
      'kms:MessageType': 'DIGEST',
    });
  });

  it('lets the rotation create, name and delete only RSA_2048 SIGN_VERIFY keys with the service tag, never the first key', () => {
    const kms = roleStatements(roleIds.rotateKeys).filter((statement) =>
      statement.Action.some((action) => action.startsWith('kms:')),
    );
    const bySid = Object.fromEntries(kms.map((statement) => [statement.Sid, statement]));
    expect(Object.keys(bySid).sort()).toEqual([
      'CreateServiceSigningKeys',
      'ManageServiceSigningKeys',
      'NameServiceSigningKeys',
      'NeverDeleteTheFirstSigningKey',
      'TagNewServiceSigningKeys',
    ]);
    expect(bySid.CreateServiceSigningKeys).toMatchObject({
      Action: ['kms:CreateKey'],
      Resource: ['*'],
      Condition: {
        StringEquals: {
          'aws:RequestTag/ropc-token-service:signing-key': 'RopcTokenService',
          'kms:KeySpec': 'RSA_2048',
          'kms:KeyUsage': 'SIGN_VERIFY',
          'kms:KeyOrigin': 'AWS_KMS',
        },
        'ForAllValues:StringEquals': { 'aws:TagKeys': ['ropc-token-service:signing-key'] },
      },
    });
    expect(bySid.TagNewServiceSigningKeys!.Condition).toEqual({
      StringEquals: { 'aws:RequestTag/ropc-token-service:signing-key': 'RopcTokenService' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['ropc-token-service:signing-key'] },
    });
    expect(JSON.stringify(bySid.NameServiceSigningKeys!.Resource)).toContain(
      ':alias/ropc-token-service/RopcTokenService/signing-*',
    );
    expect(bySid.ManageServiceSigningKeys).toMatchObject({
      Effect: 'Allow',
      Action: ['kms:CreateAlias', 'kms:ScheduleKeyDeletion'],
      Condition: {
        StringEquals: {
          'aws:ResourceTag/ropc-token-service:signing-key': 'RopcTokenService',
          'kms:KeySpec': 'RSA_2048',
          'kms:KeyUsage': 'SIGN_VERIFY',
          'kms:KeyOrigin': 'AWS_KMS',
        },
      },
    });
    expect(bySid.NeverDeleteTheFirstSigningKey).toEqual({
      Sid: 'NeverDeleteTheFirstSigningKey',
      Effect: 'Deny',
      Action: ['kms:ScheduleKeyDeletion'],
      Resource: [{ 'Fn::GetAtt': [logicalId(service.stack.signingKey.key), 'Arn'] }],
    });
    expect(kms.flatMap((statement) => statement.Action)).not.toContain('kms:Sign');
  });
});

describe('AWS WAF', () => {
  it('is associated with the stage', () => {
    service.template.resourceCountIs('AWS::WAFv2::WebACL', 1);
    service.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [logicalId(service.stack.waf!.webAcl), 'Arn'] },
    });
    const [association] = Object.values(resourcesOfType(service.template, 'AWS::WAFv2::WebACLAssociation'));
    const arn = JSON.stringify(association!.Properties!.ResourceArn);
    expect(arn).toContain(`{"Ref":"${logicalId(service.stack.api.restApi)}"}`);
    expect(arn).toContain(`/stages/`);
    expect(arn).toContain(`{"Ref":"${logicalId(service.stack.api.stage)}"}`);
  });

  it('rate-limits /token and /revoke per source IP with a 429 in the service’s error shape', () => {
    const [acl] = Object.values(resourcesOfType(service.template, 'AWS::WAFv2::WebACL'));
    const props = acl!.Properties!;
    expect(props.Scope).toBe('REGIONAL');
    expect(props.DefaultAction).toEqual({ Allow: {} });
    const rate = (props.Rules as any[]).find((rule) => rule.Name === 'CredentialEndpointsRatePerIp');
    expect(rate.Priority).toBe(0);
    expect(rate.Statement.RateBasedStatement).toMatchObject({
      AggregateKeyType: 'IP',
      Limit: 500,
      EvaluationWindowSec: 300,
    });
    const scoped = rate.Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements.map((statement: any) => [
      statement.ByteMatchStatement.PositionalConstraint,
      statement.ByteMatchStatement.SearchString,
      Object.keys(statement.ByteMatchStatement.FieldToMatch),
    ]);
    expect(scoped).toEqual([
      ['ENDS_WITH', '/token', ['UriPath']],
      ['ENDS_WITH', '/revoke', ['UriPath']],
    ]);
    expect(rate.Action.Block.CustomResponse).toMatchObject({ ResponseCode: 429 });
    const body = props.CustomResponseBodies[rate.Action.Block.CustomResponse.CustomResponseBodyKey];
    expect(body.ContentType).toBe('APPLICATION_JSON');
    expect(JSON.parse(body.Content)).toMatchObject({ error: 'temporarily_unavailable' });
  });

  it('rate-limits the JWKS and metadata per source IP too, with their own higher limit (a setting)', () => {
    const wellKnownRule = (template: typeof service.template) => {
      const [acl] = Object.values(resourcesOfType(template, 'AWS::WAFv2::WebACL'));
      const rules = acl!.Properties!.Rules as any[];
      return rules.find((rule) =>
        JSON.stringify(rule.Statement.RateBasedStatement?.ScopeDownStatement ?? {}).includes('/.well-known/'),
      );
    };
    const rule = wellKnownRule(service.template);
    expect(rule, 'a rate rule scoped to the .well-known paths').toBeDefined();
    expect(rule.Priority).toBe(1);
    expect(rule.Statement.RateBasedStatement).toMatchObject({
      AggregateKeyType: 'IP',
      Limit: 2000,
      EvaluationWindowSec: 300,
    });
    const scoped = rule.Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements.map((statement: any) => [
      statement.ByteMatchStatement.PositionalConstraint,
      statement.ByteMatchStatement.SearchString,
      Object.keys(statement.ByteMatchStatement.FieldToMatch),
    ]);
    expect(scoped).toEqual([
      ['ENDS_WITH', '/.well-known/jwks.json', ['UriPath']],
      ['ENDS_WITH', '/.well-known/oauth-authorization-server', ['UriPath']],
    ]);
    expect(rule.Action.Block.CustomResponse).toMatchObject({ ResponseCode: 429 });
    expect(rule.VisibilityConfig).toMatchObject({ CloudWatchMetricsEnabled: true, SampledRequestsEnabled: false });
    expect(
      wellKnownRule(synthService({ wafWellKnownRateLimit: '5000' }).template).Statement.RateBasedStatement.Limit,
    ).toBe(5000);
  });

  it('applies AWS managed rule groups with the body-inspecting rules counting instead of blocking, and keeps no samples', () => {
    const [acl] = Object.values(resourcesOfType(service.template, 'AWS::WAFv2::WebACL'));
    const managed = (acl!.Properties!.Rules as any[]).filter(
      (rule) => rule.Statement.ManagedRuleGroupStatement !== undefined,
    );
    expect(managed.map((rule) => rule.Statement.ManagedRuleGroupStatement.Name)).toEqual([
      'AWSManagedRulesAmazonIpReputationList',
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
    ]);
    for (const rule of managed) {
      expect(rule.OverrideAction).toEqual({ None: {} });
      const overrides = (rule.Statement.ManagedRuleGroupStatement.RuleActionOverrides ?? []) as {
        Name: string;
        ActionToUse: unknown;
      }[];
      expect(overrides.map((override) => override.Name)).toEqual(
        COUNT_ONLY_RULES[rule.Statement.ManagedRuleGroupStatement.Name] ?? [],
      );
      for (const override of overrides) expect(override.ActionToUse).toEqual({ Count: {} });
    }
    expect(COUNT_ONLY_RULES.AWSManagedRulesCommonRuleSet).toEqual(
      expect.arrayContaining(['CrossSiteScripting_BODY', 'GenericLFI_BODY']),
    );
    expect(COUNT_ONLY_RULES.AWSManagedRulesCommonRuleSet).not.toContain('SizeRestrictions_BODY');
    for (const config of [
      acl!.Properties!.VisibilityConfig,
      ...(acl!.Properties!.Rules as any[]).map((rule) => rule.VisibilityConfig),
    ]) {
      expect(config).toMatchObject({ CloudWatchMetricsEnabled: true, SampledRequestsEnabled: false });
    }
  });
});

describe('scheduled key rotation', () => {
  it('invokes the rotation function every 90 days through EventBridge Scheduler, never retried', () => {
    const [schedule] = Object.values(resourcesOfType(service.template, 'AWS::Scheduler::Schedule'));
    const props = schedule!.Properties!;
    expect(props.ScheduleExpression).toBe('rate(90 days)');
    expect(props.FlexibleTimeWindow).toEqual({ Mode: 'OFF' });
    expect(props.Target).toMatchObject({
      Arn: { 'Fn::GetAtt': [functionIds.rotateKeys, 'Arn'] },
      RetryPolicy: { MaximumRetryAttempts: 0 },
    });
    const schedulerRole = props.Target.RoleArn['Fn::GetAtt'][0] as string;
    expect(roleStatements(schedulerRole)).toEqual([
      expect.objectContaining({
        Action: ['lambda:InvokeFunction'],
        Resource: [{ 'Fn::GetAtt': [functionIds.rotateKeys, 'Arn'] }],
      }),
    ]);
    service.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionIds.rotateKeys },
      MaximumRetryAttempts: 0,
    });
    const variables = resourcesOfType(service.template, 'AWS::Lambda::Function')[functionIds.rotateKeys]!.Properties!
      .Environment.Variables;
    expect(variables.ROTATION_PROPAGATION_SECONDS).toBe('10800');
  });

  it('is left out with keyRotationDays=0, still nag-clean', () => {
    const variant = synthService({ keyRotationDays: '0' });
    variant.template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    variant.template.resourceCountIs('AWS::Lambda::Function', HANDLERS.length);
    expect(variant.template.findOutputs('*')).not.toHaveProperty('KeyRotationFunctionName');
    expect(new AwsSolutionsChecks(variant.app).validateScope(variant.app).violations).toEqual([]);
  });
});

describe('monitoring', () => {
  it('alarms on the 5xx rate, on each function’s errors and throttles, on refresh-token reuse and on credential stuffing', () => {
    const alarms = Object.values(resourcesOfType(service.template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(1 + 2 * FUNCTIONS.length + 1 + 1);
    const rate = alarms.find((alarm) => JSON.stringify(alarm.Properties!.Metrics ?? []).includes('5XXError'))!;
    expect(JSON.stringify(rate.Properties!.Metrics)).toContain('5XXError');
    expect(rate.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    for (const name of FUNCTIONS) {
      for (const metric of ['Errors', 'Throttles']) {
        expect(
          alarms.some(
            (alarm) =>
              alarm.Properties!.MetricName === metric &&
              JSON.stringify(alarm.Properties!.Dimensions) ===
                JSON.stringify([{ Name: 'FunctionName', Value: { Ref: functionIds[name] } }]),
          ),
          `${name} ${metric}`,
        ).toBe(true);
      }
    }
    expect(alarms.some((alarm) => alarm.Properties!.MetricName === 'RefreshTokenReuseDetected')).toBe(true);
    for (const alarm of alarms) expect(alarm.Properties!.TreatMissingData).toBe('notBreaching');
  });

  it('alarms on credential stuffing: a spike of failed password grants or of IP daily-budget lockouts in 5 minutes', () => {
    const stuffingAlarm = (template: typeof service.template) =>
      Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')).find((alarm) =>
        JSON.stringify(alarm.Properties!.Metrics ?? []).includes('password_grant_failed'),
      );
    const alarm = stuffingAlarm(service.template);
    expect(alarm, 'an alarm on password_grant_failed').toBeDefined();
    expect(alarm!.Properties).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    const metrics = alarm!.Properties!.Metrics as any[];
    const stat = (name: string) => metrics.find((metric) => metric.MetricStat?.Metric.MetricName === name)?.MetricStat;
    // The EMF count the functions publish (service-wide dimension set: `service` alone).
    expect(stat('password_grant_failed')).toEqual({
      Metric: {
        Namespace: 'RopcTokenService',
        MetricName: 'password_grant_failed',
        Dimensions: [{ Name: 'service', Value: 'RopcTokenService' }],
      },
      Period: 300,
      Stat: 'Sum',
    });
    // lockout_started carries `lockout`, not `reason`: counted by a metric filter on the log line.
    expect(stat('IpBudgetLockoutStarted')).toEqual({
      Metric: { Namespace: 'RopcTokenService/RopcTokenService', MetricName: 'IpBudgetLockoutStarted' },
      Period: 300,
      Stat: 'Sum',
    });
    const expression = metrics.find((metric) => metric.Expression !== undefined);
    expect(expression.ReturnData).not.toBe(false);
    expect(expression.Expression).toMatch(/>= 200\b/);
    expect(expression.Expression).toMatch(/>= 3\b/);

    const tuned = stuffingAlarm(
      synthService({ passwordFailureAlarmThreshold: '1000', ipLockoutAlarmThreshold: '10' }).template,
    );
    const tunedExpression = (tuned!.Properties!.Metrics as any[]).find((metric) => metric.Expression !== undefined);
    expect(tunedExpression.Expression).toMatch(/>= 1000\b/);
    expect(tunedExpression.Expression).toMatch(/>= 10\b/);
  });

  it('counts IP daily-budget lockouts with a metric filter that matches the line the handler logs', () => {
    const lines: string[] = [];
    const lockout: LockoutReason = IP_BUDGET_LOCKOUT;
    jsonLogger('ropc-token-service', (line) => lines.push(line)).warn(LOCKOUT_EVENT, { clientId: 'c', lockout });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'WARN', event: 'lockout_started', lockout: 'ip_budget' });
    service.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.event = "lockout_started") && ($.lockout = "ip_budget") }',
      LogGroupName: { Ref: logicalId(service.stack.functions.logGroups.token) },
      MetricTransformations: [
        {
          MetricName: 'IpBudgetLockoutStarted',
          MetricNamespace: 'RopcTokenService/RopcTokenService',
          MetricValue: '1',
        },
      ],
    });
  });

  it('counts reuse with a metric filter that matches the line the handler logs', () => {
    const lines: string[] = [];
    jsonLogger('ropc-token-service', (line) => lines.push(line)).warn(REUSE_EVENT, { familyId: 'f', clientId: 'c' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'WARN', event: REUSE_EVENT });
    service.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: `{ $.event = "${REUSE_EVENT}" }`,
      LogGroupName: { Ref: logicalId(service.stack.functions.logGroups.token) },
      MetricTransformations: [
        {
          MetricName: 'RefreshTokenReuseDetected',
          MetricNamespace: 'RopcTokenService/RopcTokenService',
          MetricValue: '1',
        },
      ],
    });
  });
});

describe('outputs', () => {
  it('give ropc-admin --stack every key it reads, plus the JWKS and metadata URLs', () => {
    const outputs = service.template.findOutputs('*');
    for (const key of [
      ...REQUIRED_STACK_OUTPUTS,
      SCRYPT_PARAMS_OUTPUT,
      ACCESS_TOKEN_TTL_OUTPUT,
      JWKS_URI_OUTPUT,
      METADATA_URL_OUTPUT,
    ]) {
      expect(outputs, key).toHaveProperty(key);
    }
    const issuer = outputs.Issuer!.Value;
    const withPath = (path: string) => ({
      'Fn::Join': ['', [...(issuer['Fn::Join'][1] as unknown[]).slice(0, -1), `/prod${path}`]],
    });
    expect(outputs.TokenEndpoint!.Value).toEqual(withPath('/token'));
    expect(outputs.JwksUri!.Value).toEqual(withPath('/.well-known/jwks.json'));
    expect(outputs.MetadataUrl!.Value).toEqual(withPath('/.well-known/oauth-authorization-server'));
    expect(outputs.ScryptParams!.Value).toBe('N=131072,r=8,p=1');
    expect(outputs.AccessTokenTtlSeconds!.Value).toBe('900');
    expect(outputs.SigningKeyAlias!.Value).toBe('alias/ropc-token-service/RopcTokenService/signing');
    expect(outputs.UsersTableName!.Value).toEqual({ Ref: tableIdFor('users') });
    expect(outputs.KeyRotationFunctionName!.Value).toEqual({ Ref: functionIds.rotateKeys });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged, and synthesis with the plugin succeeds', () => {
    const result = new AwsSolutionsChecks(service.app).validateScope(service.app);
    expect(result.violations).toEqual([]);
    expect(() => service.app.synth({ force: true })).not.toThrow();
  });

  it('acknowledges only the expected findings, each with a one-sentence reason', () => {
    const acknowledged = acknowledgments(service.app);
    expect(acknowledged.map((entry) => `${entry.path} ${entry.id}`).sort()).toEqual(
      [
        'RopcTokenService/Api/RestApi AwsSolutions-APIG2',
        'RopcTokenService/Api/RestApi AwsSolutions-APIG4',
        'RopcTokenService/Api/RestApi AwsSolutions-COG4',
        'RopcTokenService/Api/RestApi/CloudWatchRole AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'RopcTokenService/Functions/TokenRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
        'RopcTokenService/Functions/JwksRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
        'RopcTokenService/Functions/RotateKeysRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
        'RopcTokenService/Functions/RotateKeysRole AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:alias/ropc-token-service/RopcTokenService/signing-*]',
        'RopcTokenService/Functions/RotateKeysRole AwsSolutions-IAM5[Resource::*]',
        'RopcTokenService/Functions AwsSolutions-L1',
      ].sort(),
    );
    for (const { id, reason } of acknowledged) {
      expect(reason, id).toMatch(/^[A-Z].{20,}\.$/);
      expect(reason.slice(0, -1), id).not.toMatch(/\.\s/);
    }
  });

  it('would report exactly those findings without the acknowledgments (the checks really run)', () => {
    const bare = synthService();
    dropAcknowledgments(bare.app);
    const findings = new AwsSolutionsChecks(bare.app)
      .validateScope(bare.app)
      .violations.map((violation) => violation.ruleName);
    expect(findings.sort()).toEqual([...new Set(acknowledgments(service.app).map((entry) => entry.id))].sort());
    // addTokenService (what bin/app.ts runs) registered the plugin: an unacknowledged finding fails the synthesis.
    expect(() => bare.app.synth({ force: true })).toThrow(
      /ERROR The REST API does not have request validation enabled. \(AwsSolutions\)/,
    );
  });
});

describe('settings', () => {
  const build = (settings: TokenServiceSettings) => () => new TokenServiceStack(new App(), 'Bad', settings);

  it.each<[string, TokenServiceSettings, RegExp]>([
    ['an http issuer', { issuer: 'http://auth.example.com' }, /issuer must be an https URL/],
    ['an issuer with a query', { issuer: 'https://auth.example.com/?x=1' }, /no query or fragment/],
    [
      'issuer and custom domain',
      {
        issuer: 'https://a.example.com',
        customDomain: {
          domainName: 'a.example.com',
          certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
        },
      },
      /either issuer or customDomain/,
    ],
    [
      'a bad certificate ARN',
      { customDomain: { domainName: 'auth.example.com', certificateArn: 'nope' } },
      /certificateArn must be an ACM certificate ARN/,
    ],
    [
      'too little memory for scrypt',
      { tokenFunctionMemoryMiB: 256 },
      /tokenFunctionMemoryMiB 256 is too small for scrypt N=131072,r=8,p=1: .* at least 257 MiB/,
    ],
    [
      'memory for a bigger scrypt',
      { scrypt: { N: 2 ** 19, r: 8, p: 1 }, tokenFunctionMemoryMiB: 512 },
      /at least 641 MiB/,
    ],
    ['an invalid scrypt N', { scrypt: { N: 1000, r: 8, p: 1 } }, /scrypt: scrypt N must be a power of two/],
    [
      'a timeout past API Gateway’s',
      { tokenFunctionTimeoutSeconds: 29 },
      /tokenFunctionTimeoutSeconds must be a whole number from 1 to 28/,
    ],
    ['a WAF limit below the minimum', { wafRateLimit: 5 }, /wafRateLimit must be a whole number from 10/],
    [
      'a .well-known WAF limit below the minimum',
      { wafWellKnownRateLimit: 5 },
      /wafWellKnownRateLimit must be a whole number from 10/,
    ],
    [
      'a zero password-failure alarm threshold',
      { passwordFailureAlarmThreshold: 0 },
      /passwordFailureAlarmThreshold must be a whole number from 1/,
    ],
    [
      'a fractional lockout alarm threshold',
      { ipLockoutAlarmThreshold: 1.5 },
      /ipLockoutAlarmThreshold must be a whole number from 1/,
    ],
    [
      'no reserved concurrency at all',
      { tokenFunctionReservedConcurrency: 0 },
      /tokenFunctionReservedConcurrency must be a whole number from 1 to 10000, got 0/,
    ],
    [
      'a WAF window WAF does not offer',
      { wafRateWindowSeconds: 30 },
      /wafRateWindowSeconds must be one of 60, 120, 300, 600/,
    ],
    ['a retention CloudWatch does not offer', { logRetentionDays: 42 }, /logRetentionDays must be one of 1, 3, 5/],
    [
      'idle above absolute lifetime',
      { refreshTokenIdleTtlSeconds: 100 * 86_400 },
      /idle lifetime must not exceed its absolute lifetime/,
    ],
    [
      'refresh tokens shorter-lived than access tokens',
      { accessTokenTtlSeconds: 3600, refreshTokenIdleTtlSeconds: 600 },
      /must exceed accessTokenTtlSeconds/,
    ],
    [
      'a day-long access token',
      { accessTokenTtlSeconds: 2 * 86_400 },
      /accessTokenTtlSeconds must be a whole number from 60 to 86400/,
    ],
    [
      'a refresh-token grace above a minute',
      { refreshTokenGraceSeconds: 61 },
      /refreshTokenGraceSeconds must be a whole number from 0 to 60, got 61/,
    ],
    [
      'a negative refresh-token grace',
      { refreshTokenGraceSeconds: -1 },
      /refreshTokenGraceSeconds must be a whole number from 0 to 60, got -1/,
    ],
    [
      'a fractional refresh-token grace',
      { refreshTokenGraceSeconds: 1.5 },
      /refreshTokenGraceSeconds must be a whole number from 0 to 60, got 1.5/,
    ],
    [
      'a lockout that never starts its backoff',
      { lockoutPairThreshold: 0 },
      /lockoutPairThreshold must be a whole number from 1 to 100, got 0/,
    ],
    [
      'a fractional hourly lockout limit',
      { lockoutUserFailuresPerHour: 1.5 },
      /lockoutUserFailuresPerHour must be a whole number from 1 to 100000, got 1.5/,
    ],
    [
      'a daily IP budget above a million',
      { lockoutIpFailuresPerDay: 1_000_001 },
      /lockoutIpFailuresPerDay must be a whole number from 1 to 1000000, got 1000001/,
    ],
    ['a bad scope', { scopesSupported: ['read', 'a"b'] }, /"a"b" is not a valid scope token/],
    ['a bad stage name', { stageName: 'prod/1' }, /stageName may hold only/],
    ['an AWS-reserved alias', { signingKeyAlias: 'alias/aws/mine' }, /must not start with "alias\/aws\/"/],
    [
      'a bad alarm topic',
      { alarmTopicArn: 'arn:aws:sqs:eu-west-1:123456789012:q' },
      /alarmTopicArn must be an SNS topic ARN/,
    ],
    [
      'a key propagation shorter than the JWKS cache',
      { keyRotationPropagationSeconds: 120 },
      /keyRotationPropagationSeconds 120 is shorter than a JWKS cache: .* at least 360 s before it signs/,
    ],
    [
      'rotations closer than one rotation lasts',
      { keyRotationDays: 1, keyRotationPropagationSeconds: 86_400 },
      /keyRotationDays 1 is shorter than one rotation/,
    ],
  ])('refuses %s with a clear message', (_, settings, message) => {
    expect(build(settings)).toThrow(TokenServiceSettingsError);
    expect(build(settings)).toThrow(message);
  });

  it('reports one problem per broken rule: an http issuer is one problem, in the same words as for the functions', () => {
    let error: unknown;
    try {
      build({ issuer: 'http://auth.example.com' })();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TokenServiceSettingsError);
    expect((error as TokenServiceSettingsError).problems).toEqual([
      'issuer must be an https URL (RFC 8414 §2), got "http://auth.example.com"',
    ]);
  });

  it('reports every problem at once', () => {
    const attempt = build({ wafRateLimit: 1, stageName: '', logRetentionDays: 2 });
    expect(attempt).toThrow(/^invalid ropc-token-service settings:\n {2}- /);
    for (const name of ['wafRateLimit', 'stageName', 'logRetentionDays'])
      expect(attempt).toThrow(new RegExp(`\\n {2}- ${name} `));
  });

  it('reads -c key=value context, with the same names as the props', () => {
    const app = new App({
      context: {
        accessTokenTtlSeconds: '600',
        waf: 'false',
        scrypt: 'N=65536,r=8,p=1',
        scopesSupported: 'read write',
        tokenFunctionMemoryMiB: '2048',
        customDomainName: 'auth.example.com',
        customDomainCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
        stackName: 'Staging',
      },
    });
    expect(settingsFromContext(app.node)).toEqual({
      stackName: 'Staging',
      settings: {
        accessTokenTtlSeconds: 600,
        waf: false,
        scrypt: { N: 65536, r: 8, p: 1 },
        scopesSupported: ['read', 'write'],
        tokenFunctionMemoryMiB: 2048,
        customDomain: {
          domainName: 'auth.example.com',
          certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
        },
      },
    });
  });

  it.each([
    ['0', '0'],
    ['60', '60'],
    [45, '45'],
  ])('passes context refreshTokenGraceSeconds=%j to the functions as REFRESH_TOKEN_GRACE_SECONDS', (value, env) => {
    const { stack, template } = synthService({ refreshTokenGraceSeconds: value });
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    for (const name of HANDLERS) {
      const fn = functions[logicalId(stack.functions.functions[name])]!;
      expect(fn.Properties!.Environment.Variables[ENV.refreshTokenGraceSeconds], name).toBe(env);
    }
  });

  it.each<[unknown, RegExp]>([
    ['61', /refreshTokenGraceSeconds must be a whole number from 0 to 60, got 61/],
    ['-1', /refreshTokenGraceSeconds must be a whole number from 0 to 60, got -1/],
    ['2.5', /refreshTokenGraceSeconds must be a whole number from 0 to 60, got 2.5/],
    ['abc', /context refreshTokenGraceSeconds="abc": expected a number/],
  ])('stops the synthesis for context refreshTokenGraceSeconds=%j, naming the key and the range', (value, message) => {
    const attempt = () => synthService({ refreshTokenGraceSeconds: value });
    expect(attempt).toThrow(TokenServiceSettingsError);
    expect(attempt).toThrow(message);
  });

  it('passes the lockout limits given as context to the token function', () => {
    const { stack, template } = synthService({
      lockoutPairThreshold: '2',
      lockoutUserFailuresPerHour: 40,
      lockoutIpFailuresPerDay: '3',
    });
    const fn = resourcesOfType(template, 'AWS::Lambda::Function')[logicalId(stack.functions.functions.token)]!;
    expect(fn.Properties!.Environment.Variables).toMatchObject({
      LOCKOUT_PAIR_THRESHOLD: '2',
      LOCKOUT_USER_FAILURES_PER_HOUR: '40',
      LOCKOUT_IP_FAILURES_PER_DAY: '3',
    });
  });

  it.each<[string, unknown, RegExp]>([
    ['lockoutPairThreshold', '0', /lockoutPairThreshold must be a whole number from 1 to 100, got 0/],
    ['lockoutPairThreshold', '101', /lockoutPairThreshold must be a whole number from 1 to 100, got 101/],
    ['lockoutPairThreshold', 'abc', /context lockoutPairThreshold="abc": expected a number/],
    ['lockoutUserFailuresPerHour', '0', /lockoutUserFailuresPerHour must be a whole number from 1 to 100000, got 0/],
    [
      'lockoutUserFailuresPerHour',
      '100001',
      /lockoutUserFailuresPerHour must be a whole number from 1 to 100000, got 100001/,
    ],
    ['lockoutIpFailuresPerDay', '2.5', /lockoutIpFailuresPerDay must be a whole number from 1 to 1000000, got 2.5/],
    [
      'lockoutIpFailuresPerDay',
      '1000001',
      /lockoutIpFailuresPerDay must be a whole number from 1 to 1000000, got 1000001/,
    ],
    ['lockoutIpFailuresPerDay', 'lots', /context lockoutIpFailuresPerDay="lots": expected a number/],
  ])('stops the synthesis for context %s=%j, naming the key and the range', (key, value, message) => {
    const attempt = () => synthService({ [key]: value });
    expect(attempt).toThrow(TokenServiceSettingsError);
    expect(attempt).toThrow(message);
  });

  it.each<[unknown, RegExp]>([
    ['0', /tokenFunctionReservedConcurrency must be a whole number from 1 to 10000, got 0/],
    ['10001', /tokenFunctionReservedConcurrency must be a whole number from 1 to 10000, got 10001/],
    [-5, /tokenFunctionReservedConcurrency must be a whole number from 1 to 10000, got -5/],
    ['2.5', /tokenFunctionReservedConcurrency must be a whole number from 1 to 10000, got 2.5/],
    ['lots', /context tokenFunctionReservedConcurrency="lots": expected a number/],
    ['', /context tokenFunctionReservedConcurrency="": expected a number/],
  ])('stops the synthesis for context tokenFunctionReservedConcurrency=%j, naming the key', (value, message) => {
    const attempt = () => synthService({ tokenFunctionReservedConcurrency: value });
    expect(attempt).toThrow(TokenServiceSettingsError);
    expect(attempt).toThrow(message);
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ accessTokenTtlSeconds: 'ten' }, /context accessTokenTtlSeconds="ten": expected a number/],
    [{ waf: 'no' }, /context waf="no": expected true or false/],
    [{ scrypt: 'N=3' }, /context scrypt="N=3": invalid scrypt parameters/],
    [{ customDomainName: 'auth.example.com' }, /customDomainName and customDomainCertificateArn go together/],
    [{ stackName: '1st' }, /context stackName="1st"/],
  ])('refuses bad context %j', (context, message) => {
    expect(() => settingsFromContext(new App({ context }).node)).toThrow(message);
  });

  it.each<[string, RegExp]>([
    [
      'refreshTokenGraceSecond',
      /context key "refreshTokenGraceSecond" is not a setting of this app: did you mean refreshTokenGraceSeconds\?/,
    ],
    [
      'acessTokenTtlSeconds',
      /context key "acessTokenTtlSeconds" is not a setting of this app: did you mean accessTokenTtlSeconds\?/,
    ],
    ['Waf', /context key "Waf" is not a setting of this app: did you mean waf\?/],
    ['tracng', /context key "tracng" is not a setting of this app: did you mean tracing\?/],
  ])('stops the synthesis for the misspelt context key %s, suggesting the closest setting', (key, message) => {
    const attempt = () => synthService({ [key]: '10' });
    expect(attempt).toThrow(TokenServiceSettingsError);
    expect(attempt).toThrow(message);
  });

  it('lists the settings for an unknown context key that is close to none of them, with every other problem', () => {
    const attempt = () => synthService({ colour: 'blue', waf: 'no' });
    expect(attempt).toThrow(
      /context key "colour" is not a setting of this app \(the settings: stackName, issuer, .*tracing,/,
    );
    expect(attempt).toThrow(/context waf="no": expected true or false/);
  });

  it("accepts CDK's own context keys: cdk.json's feature flags, the toolkit's keys and cached lookups", () => {
    const context = {
      ...CDK_JSON_CONTEXT,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:version-reporting': false,
      'aws:cdk:bundling-stacks': ['**'],
      'aws-cdk:enableDiffNoFail': 'true',
      'acknowledged-issue-numbers': [32775],
      'cdk-migrate': true,
      'availability-zones:account=111122223333:region=eu-west-1': ['eu-west-1a'],
      '@aws-cdk-containers/ecs-service-extensions:enableDefaultLogDriver': true,
    };
    expect(Object.keys(CDK_JSON_CONTEXT).length).toBeGreaterThan(10);
    expect(settingsFromContext(new App({ context }).node).settings).toEqual({});
  });
});

describe('X-Ray tracing', () => {
  const allFunctions = (template: SynthesizedService['template']) =>
    Object.values(resourcesOfType(template, 'AWS::Lambda::Function'));
  const stageOf = (template: SynthesizedService['template']) =>
    Object.values(resourcesOfType(template, 'AWS::ApiGateway::Stage'))[0]!.Properties!;

  it('is off by default: no tracing config on any function, none on the stage, no X-Ray grant', () => {
    expect(allFunctions(service.template)).toHaveLength(4);
    for (const fn of allFunctions(service.template)) expect(fn.Properties!.TracingConfig).toBeUndefined();
    expect(stageOf(service.template).TracingEnabled).toBe(false);
    expect(JSON.stringify(service.template.toJSON())).not.toContain('xray:');
  });

  it('with tracing=true: active tracing on every function and on the stage, X-Ray writes granted, still nag-clean', () => {
    const traced = synthService({ tracing: 'true' });
    const functions = allFunctions(traced.template);
    expect(functions).toHaveLength(4);
    for (const fn of functions) expect(fn.Properties!.TracingConfig).toEqual({ Mode: 'Active' });
    expect(stageOf(traced.template).TracingEnabled).toBe(true);
    const roles = { ...traced.stack.functions.roles, rotateKeys: traced.stack.keyRotation!.role };
    for (const [name, role] of Object.entries(roles)) {
      const roleId = logicalId(role);
      const granted = Object.values(resourcesOfType(traced.template, 'AWS::IAM::Policy'))
        .filter((policy) => JSON.stringify(policy.Properties!.Roles).includes(`"${roleId}"`))
        .flatMap((policy) => statements(policy.Properties!.PolicyDocument));
      expect(
        granted.filter((statement) => statement.Action.some((action) => action.startsWith('xray:'))),
        name,
      ).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
          Resource: ['*'],
        }),
      ]);
    }
    expect(new AwsSolutionsChecks(traced.app).validateScope(traced.app).violations).toEqual([]);
    for (const { id, reason } of acknowledgments(traced.app)) {
      expect(reason, id).toMatch(/^[A-Z].{20,}\.$/);
      expect(reason.slice(0, -1), id).not.toMatch(/\.\s/);
    }
  });

  it('refuses a tracing value that is not true or false', () => {
    expect(() => synthService({ tracing: 'on' })).toThrow(/context tracing="on": expected true or false/);
  });
});

describe('dashboard', () => {
  /** The dashboard body as JSON, each CloudFormation expression in it replaced by "<token>". */
  const body = (template: SynthesizedService['template']) => {
    const dashboards = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const source = dashboards[0]!.Properties!.DashboardBody;
    const text =
      typeof source === 'string'
        ? source
        : (source['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : '<token>')).join('');
    return JSON.parse(text) as { widgets: { properties: { title: string; metrics: unknown[][] } }[] };
  };
  const metrics = (template: SynthesizedService['template']) =>
    body(template).widgets.flatMap((widget) => widget.properties.metrics.map((metric) => JSON.stringify(metric)));

  it("graphs the grants, reuse and lockouts as the audit events' service-wide EMF counts", () => {
    const graphed = metrics(service.template);
    for (const event of [
      'password_grant_succeeded',
      'password_grant_failed',
      'refresh_grant_succeeded',
      'refresh_grant_failed',
      'refresh_token_reuse_detected',
      'lockout_started',
    ] satisfies AuditEvent[]) {
      expect(graphed, event).toContainEqual(
        expect.stringMatching(
          new RegExp(`^\\["${METRICS_NAMESPACE}","${event}","service","RopcTokenService",\\{.*"stat":"Sum"`),
        ),
      );
    }
  });

  it("graphs the token function's duration (p50, p99), errors and throttles, and the API's 4xx, 5xx and latency", () => {
    const graphed = metrics(service.template);
    for (const [metric, stat] of [
      ['Duration', 'p50'],
      ['Duration', 'p99'],
      ['Errors', 'Sum'],
      ['Throttles', 'Sum'],
    ]) {
      expect(graphed, `${metric} ${stat}`).toContainEqual(
        expect.stringMatching(
          new RegExp(`^\\["AWS/Lambda","${metric}","FunctionName","<token>",\\{.*"stat":"${stat}"`),
        ),
      );
    }
    for (const [metric, stat] of [
      ['4XXError', 'Sum'],
      ['5XXError', 'Sum'],
      ['Latency', 'p50'],
      ['Latency', 'p99'],
    ]) {
      expect(graphed, `${metric} ${stat}`).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^\\["AWS/ApiGateway","${metric}","ApiName","RopcTokenService","Stage","<token>",\\{.*"stat":"${stat}"`,
          ),
        ),
      );
    }
    // The token function's metrics are the token function's, not another one's.
    const [dashboard] = Object.values(resourcesOfType(service.template, 'AWS::CloudWatch::Dashboard'));
    expect(JSON.stringify(dashboard!.Properties!.DashboardBody)).toContain(`{"Ref":"${functionIds.token}"}`);
    expect(JSON.stringify(dashboard!.Properties!.DashboardBody)).not.toContain(`{"Ref":"${functionIds.jwks}"}`);
  });

  it('is named after the stack and its region, given as the DashboardName output', () => {
    const [id] = Object.keys(resourcesOfType(service.template, 'AWS::CloudWatch::Dashboard'));
    const outputs = service.template.findOutputs('*');
    expect(outputs[DASHBOARD_NAME_OUTPUT]!.Value).toEqual({ Ref: id });
    const [dashboard] = Object.values(resourcesOfType(service.template, 'AWS::CloudWatch::Dashboard'));
    expect(dashboard!.Properties!.DashboardName).toEqual({
      'Fn::Join': ['', ['RopcTokenService-', { Ref: 'AWS::Region' }]],
    });
  });
});

describe('variants', () => {
  it('with the account and region of deploy-time credentials: the same acknowledgments still match, nag-clean', () => {
    const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
    process.env.CDK_DEFAULT_ACCOUNT = '111122223333';
    process.env.CDK_DEFAULT_REGION = 'eu-west-1';
    try {
      const variant = synthService();
      expect(variant.stack.region).toBe('eu-west-1');
      expect(new AwsSolutionsChecks(variant.app).validateScope(variant.app).violations).toEqual([]);
    } finally {
      for (const [name, value] of [
        ['CDK_DEFAULT_ACCOUNT', saved.account],
        ['CDK_DEFAULT_REGION', saved.region],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('without WAF: no web ACL, APIG3 acknowledged as the operator’s choice, still nag-clean', () => {
    const variant = synthService({ waf: 'false' });
    variant.template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    variant.template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    expect(acknowledgments(variant.app).map((entry) => entry.id)).toContain('AwsSolutions-APIG3');
    expect(new AwsSolutionsChecks(variant.app).validateScope(variant.app).violations).toEqual([]);
  });

  it('with an issuer fronted elsewhere (CloudFront): the execute-api endpoint stays on, outputs on the issuer', () => {
    const variant = synthService({ issuer: 'https://auth.example.com' });
    const [api] = Object.values(resourcesOfType(variant.template, 'AWS::ApiGateway::RestApi'));
    expect(api!.Properties!.DisableExecuteApiEndpoint).not.toBe(true);
    expect(api!.Properties!.SecurityPolicy).toBe('TLS_1_2');
    const outputs = variant.template.findOutputs('*');
    expect(outputs.Issuer!.Value).toBe('https://auth.example.com');
    expect(outputs.JwksUri!.Value).toBe('https://auth.example.com/.well-known/jwks.json');
  });

  it('with a custom domain: TLS 1.2 regional domain mapped at the root, issuer and outputs on it', () => {
    const variant = synthService({
      customDomainName: 'auth.example.com',
      customDomainCertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc',
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops',
      apiGatewayLoggingRole: 'false',
      tokenFunctionMemoryMiB: '3008',
    });
    variant.template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'auth.example.com',
      SecurityPolicy: 'TLS_1_2',
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    variant.template.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
    // Only the domain (and what sits in front of it) answers: the execute-api URL is switched off.
    variant.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      SecurityPolicy: 'TLS_1_2',
      DisableExecuteApiEndpoint: true,
    });
    variant.template.resourceCountIs('AWS::ApiGateway::Account', 0);
    const outputs = variant.template.findOutputs('*');
    expect(outputs.Issuer!.Value).toBe('https://auth.example.com');
    expect(outputs.TokenEndpoint!.Value).toBe('https://auth.example.com/token');
    expect(outputs).toHaveProperty('CustomDomainTarget');
    for (const key of ['Issuer', 'TokenEndpoint', 'RevocationEndpoint', 'JwksUri', 'MetadataUrl'])
      expect(JSON.stringify(outputs[key]!.Value), key).not.toContain('execute-api');
    const functions = Object.values(resourcesOfType(variant.template, 'AWS::Lambda::Function'));
    for (const fn of functions)
      expect(fn.Properties!.Environment.Variables[ENV.issuer]).toBe('https://auth.example.com');
    expect(functions.map((fn) => fn.Properties!.MemorySize)).toContain(3008);
    for (const alarm of Object.values(resourcesOfType(variant.template, 'AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties!.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:ops']);
    }
    expect(new AwsSolutionsChecks(variant.app).validateScope(variant.app).violations).toEqual([]);
  });
});
