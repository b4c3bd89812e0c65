import { Aws, Fn, RemovalPolicy } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  type CfnRestApi,
  DomainName,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
  SecurityPolicy,
  type Stage,
} from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HandlerName, Route } from '../contract/routes';
import { NotFoundError, type OAuthError, TemporarilyUnavailableError } from '../lambda/oauth/errors';
import { errorResponse } from '../lambda/oauth/responses';
import type { CustomDomainOptions } from './settings';

export interface TokenApiProps {
  /** Also the `ApiName` dimension of the API's metrics: unique per account and region. */
  readonly restApiName: string;
  readonly stageName: string;
  readonly throttlingRateLimit: number;
  readonly throttlingBurstLimit: number;
  /** Create the account's API Gateway logging role (see TokenServiceSettings.apiGatewayLoggingRole). */
  readonly loggingRole: boolean;
  readonly logRetention: RetentionDays;
  readonly customDomain?: CustomDomainOptions;
  /** X-Ray active tracing on the stage. */
  readonly tracing: boolean;
}

/**
 * One JSON object per request. Deliberately absent: headers (Authorization carries client secrets),
 * bodies (passwords, tokens) and query strings; API Gateway has no variable for the body anyway.
 */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: AccessLogField.contextRequestId(),
  extendedRequestId: AccessLogField.contextExtendedRequestId(),
  requestTime: AccessLogField.contextRequestTimeEpoch(),
  sourceIp: AccessLogField.contextIdentitySourceIp(),
  userAgent: AccessLogField.contextIdentityUserAgent(),
  domainName: AccessLogField.contextDomainName(),
  httpMethod: AccessLogField.contextHttpMethod(),
  resourcePath: AccessLogField.contextResourcePath(),
  protocol: AccessLogField.contextProtocol(),
  status: AccessLogField.contextStatus(),
  responseLength: AccessLogField.contextResponseLength(),
  responseLatency: AccessLogField.contextResponseLatency(),
  integrationStatus: AccessLogField.contextIntegrationStatus(),
  integrationLatency: AccessLogField.contextIntegrationLatency(),
  integrationError: AccessLogField.contextIntegrationErrorMessage(),
  errorType: AccessLogField.contextErrorResponseType(),
  errorMessage: AccessLogField.contextErrorMessage(),
  wafResponse: AccessLogField.contextWafResponseCode(),
};

/**
 * The REST API (the API type AWS WAF protects), built from the shared route table: every route is a
 * Lambda proxy for ANY method, and the function answers the methods it does not serve with 405 itself.
 * CORS preflights (OPTIONS) reach the function the same way, as the local emulation sends them: no mock
 * OPTIONS method and no API Gateway CORS, so that the token function alone decides the CORS headers of
 * /token and /revoke (lambda/oauth/cors.ts).
 *
 * `binaryMediaTypes: ['*\/*']` hands every request body to the function base64-encoded and byte-exact
 * (the handler decodes `isBase64Encoded`), as the local emulation does. Responses are text with
 * `isBase64Encoded: false`, which API Gateway returns as they are: only a proxy response flagged
 * `isBase64Encoded: true` is decoded to binary (API Gateway developer guide, "Return binary media from a
 * Lambda proxy integration", whose example serves text and images from one `*\/*` API).
 */
export class TokenApi extends Construct {
  readonly restApi: RestApi;
  readonly stage: Stage;
  readonly accessLogs: LogGroup;
  readonly executionLogs: LogGroup;
  readonly domain: DomainName | undefined;
  /**
   * The stage's base URL, built from the API id rather than `restApi.url`: the functions' ISSUER would
   * otherwise depend on the deployment, which depends on the functions.
   */
  readonly stageUrl: string;

  constructor(scope: Construct, id: string, props: TokenApiProps) {
    super(scope, id);
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.restApi = new RestApi(this, 'RestApi', {
      restApiName: props.restApiName,
      description: 'ropc-token-service: OAuth 2.0 token endpoint (password and refresh_token grants)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // With a custom domain, the domain (and whatever sits in front of it) is the only way in: a client
      // could otherwise reach the stage through its execute-api URL and bypass it.
      disableExecuteApiEndpoint: props.customDomain !== undefined,
      binaryMediaTypes: ['*/*'],
      // Access and execution logs need the account's (regional) API Gateway logging role.
      cloudWatchRole: props.loggingRole,
      ...(props.loggingRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName: props.stageName,
        throttlingRateLimit: props.throttlingRateLimit,
        throttlingBurstLimit: props.throttlingBurstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        // Errors only; never data traces, which log full requests, passwords and client secrets included.
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: false,
        tracingEnabled: props.tracing,
      },
    });
    // TLS 1.2 minimum on the execute-api endpoint too: API Gateway's default for a regional API is TLS_1_0.
    // RestApi has no prop for it (aws-cdk-lib 2.276), so it is set on AWS::ApiGateway::RestApi's own
    // SecurityPolicy. TLS_1_2 accepts TLS 1.2 and 1.3; an enhanced `SecurityPolicy_*` policy would also
    // need an endpoint access mode, and the custom domain below keeps the same legacy policy.
    (this.restApi.node.defaultChild as CfnRestApi).securityPolicy = SecurityPolicy.TLS_1_2;
    this.stage = this.restApi.deploymentStage;
    // API Gateway writes execution logs to this group; made here, before the stage, so that it has a retention.
    this.executionLogs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: Fn.join('', ['API-Gateway-Execution-Logs_', this.restApi.restApiId, '/', props.stageName]),
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage.node.addDependency(this.executionLogs);
    // The stage URL is the Issuer output: RestApi's own Endpoint output would repeat it.
    this.restApi.node.tryRemoveChild('Endpoint');
    this.addGatewayResponses();

    this.stageUrl = Fn.join('', [
      'https://',
      this.restApi.restApiId,
      '.execute-api.',
      Aws.REGION,
      '.',
      Aws.URL_SUFFIX,
      '/',
      props.stageName,
    ]);
    if (props.customDomain !== undefined) {
      this.domain = new DomainName(this, 'CustomDomain', {
        domainName: props.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
        endpointType: EndpointType.REGIONAL,
        securityPolicy: SecurityPolicy.TLS_1_2,
        mapping: this.restApi,
      });
    }
  }

  /** One resource per route, `ANY` proxied to the route's function. */
  addRoutes(routes: readonly Route[], functions: Readonly<Record<HandlerName, IFunction>>): void {
    for (const route of routes) {
      const integration = new LambdaIntegration(functions[route.handler], { proxy: true, allowTestInvoke: false });
      this.restApi.root
        .resourceForPath(route.path)
        .addMethod('ANY', integration, { authorizationType: AuthorizationType.NONE });
    }
  }

  /**
   * Responses API Gateway makes itself, in the service's RFC 6749 §5.2 shape (and no-store): its own
   * failures (Lambda throttled, timed out, crashed) are 503 with Retry-After, as the service promises
   * for infrastructure faults (README, Endpoints); throttling is 429 with Retry-After; an unknown path is 404, not the
   * default 403 "Missing Authentication Token".
   */
  private addGatewayResponses(): void {
    const respond = (id: string, type: ResponseType, statusCode: number, error: OAuthError) => {
      // The same renderer as the handlers' error responses: body, Content-Type, no-store, Retry-After.
      const rendered = errorResponse(error, SILENT_LOGGER, '');
      this.restApi.addGatewayResponse(id, {
        type,
        statusCode: String(statusCode),
        // Static header values are single-quoted in API Gateway's mapping syntax.
        responseHeaders: Object.fromEntries(
          Object.entries(rendered.headers).map(([name, value]) => [name, `'${value}'`]),
        ),
        templates: { 'application/json': rendered.body },
      });
    };
    respond('ServerFault', ResponseType.DEFAULT_5XX, 503, new TemporarilyUnavailableError(5));
    respond('Throttled', ResponseType.THROTTLED, 429, new TemporarilyUnavailableError(1));
    respond('UnknownPath', ResponseType.MISSING_AUTHENTICATION_TOKEN, 404, new NotFoundError());
  }
}

const SILENT_LOGGER = { info: () => undefined, warn: () => undefined, error: () => undefined };
