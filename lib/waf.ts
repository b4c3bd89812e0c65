import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ENDPOINT_PATHS } from '../contract/routes';

export interface WebAclProps {
  /** ARN of the API Gateway stage to protect. */
  readonly stageArn: string;
  /** Requests per source IP per window to the credential-checking endpoints. */
  readonly rateLimit: number;
  /** Requests per source IP per window to the JWKS and metadata documents (read by resource servers). */
  readonly wellKnownRateLimit: number;
  readonly rateWindowSeconds: number;
  /** Prefix of the CloudWatch metric names. */
  readonly metricPrefix: string;
}

/** The endpoints that check client secrets and passwords: the ones worth guessing against. */
export const RATE_LIMITED_PATHS: readonly string[] = [ENDPOINT_PATHS.token, ENDPOINT_PATHS.revocation];

/**
 * The public documents: no credential to guess, but each request costs a function invocation (and the
 * JWKS one a registry read), so a flood from one address is limited too, at its own, higher limit.
 */
export const WELL_KNOWN_PATHS: readonly string[] = [ENDPOINT_PATHS.jwks, ENDPOINT_PATHS.metadata];

/**
 * Managed rules that inspect the request body for attack patterns. The body of a token request is a
 * form whose password (and client secret) is arbitrary user text: a password such as `<script>`, `../`
 * or `${jndi:` must reach the password check, not a 403. These rules count (visible in metrics), they do
 * not block; the size limit on the body (8 KB) and every header, path and query rule still block.
 */
export const COUNT_ONLY_RULES: Readonly<Record<string, readonly string[]>> = {
  AWSManagedRulesCommonRuleSet: [
    'CrossSiteScripting_BODY',
    'GenericLFI_BODY',
    'GenericRFI_BODY',
    'EC2MetaDataSSRF_BODY',
    // Back-end and device clients often send no User-Agent; OAuth client authentication is the gate.
    'NoUserAgent_HEADER',
  ],
  AWSManagedRulesKnownBadInputsRuleSet: ['Log4JRCE_BODY', 'JavaDeserializationRCE_BODY'],
};

/** In this order, after the rate rules. No paid groups (Bot Control, ATP) and no anonymous-IP list, which blocks clients hosted in the cloud. */
const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
];

const RATE_LIMITED_BODY_KEY = 'RateLimited';

/**
 * A regional AWS WAF web ACL on the API stage: per-source-IP rate limits on /token and /revoke and, higher,
 * on the .well-known documents, that answer 429 in the service's error shape, and AWS managed rule groups
 * tuned not to break form posts.
 * Sampled requests are off: samples keep request headers, and Authorization carries client secrets.
 */
export class WebAcl extends Construct {
  readonly webAcl: CfnWebACL;

  constructor(scope: Construct, id: string, props: WebAclProps) {
    super(scope, id);
    const visibility = (name: string): CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${props.metricPrefix}-${name}`,
      sampledRequestsEnabled: false,
    });

    /** A per-source-IP rate limit on the requests whose path ends with one of `paths`. */
    const rateRule = (
      name: string,
      priority: number,
      limit: number,
      paths: readonly string[],
    ): CfnWebACL.RuleProperty => ({
      name,
      priority,
      action: {
        block: {
          customResponse: {
            responseCode: 429,
            customResponseBodyKey: RATE_LIMITED_BODY_KEY,
            responseHeaders: [
              { name: 'Retry-After', value: String(props.rateWindowSeconds) },
              { name: 'Cache-Control', value: 'no-store' },
            ],
          },
        },
      },
      statement: {
        rateBasedStatement: {
          aggregateKeyType: 'IP',
          limit,
          evaluationWindowSec: props.rateWindowSeconds,
          // The path WAF sees includes the stage (/prod/token) or not (custom domain): match the end.
          scopeDownStatement: {
            orStatement: {
              statements: paths.map((path) => ({
                byteMatchStatement: {
                  fieldToMatch: { uriPath: {} },
                  positionalConstraint: 'ENDS_WITH',
                  searchString: path,
                  textTransformations: [{ priority: 0, type: 'NONE' }],
                },
              })),
            },
          },
        },
      },
      visibilityConfig: visibility(name),
    });
    const rateRules = [
      rateRule('CredentialEndpointsRatePerIp', 0, props.rateLimit, RATE_LIMITED_PATHS),
      rateRule('WellKnownDocumentsRatePerIp', 1, props.wellKnownRateLimit, WELL_KNOWN_PATHS),
    ];

    const managedRules = MANAGED_RULE_GROUPS.map(
      (name, index): CfnWebACL.RuleProperty => ({
        name,
        priority: rateRules.length + index,
        overrideAction: { none: {} },
        statement: {
          managedRuleGroupStatement: {
            vendorName: 'AWS',
            name,
            ruleActionOverrides: COUNT_ONLY_RULES[name]?.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
          },
        },
        visibilityConfig: visibility(name),
      }),
    );

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      description: 'ropc-token-service: per-IP rate limits on the endpoints and AWS managed rules',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      customResponseBodies: {
        [RATE_LIMITED_BODY_KEY]: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({
            error: 'temporarily_unavailable',
            error_description: 'too many requests from this address, retry later',
          }),
        },
      },
      rules: [...rateRules, ...managedRules],
      visibilityConfig: visibility('WebAcl'),
    });
    new CfnWebACLAssociation(this, 'StageAssociation', { resourceArn: props.stageArn, webAclArn: this.webAcl.attrArn });
  }
}
