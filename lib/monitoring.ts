import { Duration } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { type AuditEvent, METRICS_NAMESPACE } from '../contract/audit-events';

export interface MonitoringProps {
  readonly stage: Stage;
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The token function's log group, where refresh-token reuse is logged. */
  readonly tokenLogGroup: ILogGroup;
  /** Namespace suffix for the log-filter metrics, so that two stacks in one account keep theirs apart. */
  readonly stackName: string;
  readonly serverErrorRatePercent: number;
  /** The credential-stuffing alarm fires at this many failed password grants in 5 minutes... */
  readonly passwordFailureAlarmThreshold: number;
  /** ...or at this many source addresses reaching their daily failure budget in 5 minutes. */
  readonly ipLockoutAlarmThreshold: number;
  readonly alarmTopicArn?: string;
}

/** The JSON log event lambda/oauth/grants/refresh-token.ts writes when a rotated refresh token comes back. */
export const REUSE_EVENT: AuditEvent = 'refresh_token_reuse_detected';
export const REUSE_METRIC_NAME = 'RefreshTokenReuseDetected';
/** The audit event of a failed password grant: its EMF count (dimension `service`) is the failure rate. */
export const PASSWORD_FAILURE_EVENT: AuditEvent = 'password_grant_failed';
/** The log line lambda/oauth/grants/password.ts writes when an attempt makes a limit start refusing. */
export const LOCKOUT_EVENT: AuditEvent = 'lockout_started';
/** Its `lockout` field when the limit is the source address's daily budget (LockoutReason in lambda/oauth/lockout.ts). */
export const IP_BUDGET_LOCKOUT = 'ip_budget';
export const IP_BUDGET_LOCKOUT_METRIC_NAME = 'IpBudgetLockoutStarted';
/** The 5xx rate is not judged on fewer requests than this in a period. */
const MIN_REQUESTS_FOR_ERROR_RATE = 20;
const PERIOD = Duration.minutes(5);

/**
 * Alarms on what an operator must act on: the API's 5xx rate, any function error (the handlers turn
 * every failure into a response, so an error is a crash, a timeout or memory exhaustion), throttled
 * invocations, refresh-token reuse (a stolen token, RFC 9700 §4.14.2), and credential stuffing (a spike
 * of failed password grants, or of source addresses exhausting their daily failure budget).
 *
 * Counts of grants, failures by reason and lockouts need no filters: each audit log line is followed by
 * a CloudWatch Embedded Metric Format line (Powertools Metrics), so CloudWatch publishes them under the
 * `RopcTokenService` namespace. Reuse is counted again here by a metric filter on the log line, so its
 * alarm does not depend on the EMF line; so are IP-budget lockouts, because `lockout_started` carries its
 * limit in `lockout`, not in `reason`, and its EMF count has no dimension that tells the limits apart.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const topic =
      props.alarmTopicArn === undefined ? undefined : Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn);
    const alarm = (alarmId: string, description: string, metric: IMetric, threshold: number) => {
      const created = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (topic !== undefined) created.addAlarmAction(new SnsAction(topic));
      this.alarms.push(created);
    };

    const serverErrorRate = new MathExpression({
      label: '5xx responses (% of requests)',
      expression: `IF(requests >= ${MIN_REQUESTS_FOR_ERROR_RATE}, 100 * errors / requests, 0)`,
      usingMetrics: {
        errors: props.stage.metricServerError({ statistic: 'Sum', period: PERIOD }),
        requests: props.stage.metricCount({ statistic: 'Sum', period: PERIOD }),
      },
      period: PERIOD,
    });
    alarm(
      'ServerErrorRate',
      `More than ${props.serverErrorRatePercent}% of API requests answered 5xx over 5 minutes`,
      serverErrorRate,
      props.serverErrorRatePercent,
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      alarm(
        `${title}FunctionErrors`,
        `The ${name} function failed (crash, timeout or out of memory)`,
        fn.metricErrors({ statistic: 'Sum', period: PERIOD }),
        1,
      );
      alarm(
        `${title}FunctionThrottles`,
        `Invocations of the ${name} function were throttled`,
        fn.metricThrottles({ statistic: 'Sum', period: PERIOD }),
        1,
      );
    }

    const reuse = new MetricFilter(this, 'RefreshTokenReuseFilter', {
      logGroup: props.tokenLogGroup,
      filterPattern: FilterPattern.stringValue('$.event', '=', REUSE_EVENT),
      metricNamespace: `${METRICS_NAMESPACE}/${props.stackName}`,
      metricName: REUSE_METRIC_NAME,
      metricValue: '1',
    });
    alarm(
      'RefreshTokenReuse',
      'A rotated refresh token was presented again: its family was revoked; investigate a possible token theft',
      reuse.metric({ statistic: 'Sum', period: PERIOD }),
      1,
    );

    const ipBudgetLockouts = new MetricFilter(this, 'IpBudgetLockoutFilter', {
      logGroup: props.tokenLogGroup,
      filterPattern: FilterPattern.all(
        FilterPattern.stringValue('$.event', '=', LOCKOUT_EVENT),
        FilterPattern.stringValue('$.lockout', '=', IP_BUDGET_LOCKOUT),
      ),
      metricNamespace: `${METRICS_NAMESPACE}/${props.stackName}`,
      metricName: IP_BUDGET_LOCKOUT_METRIC_NAME,
      metricValue: '1',
    });
    const failures = props.passwordFailureAlarmThreshold;
    const lockouts = props.ipLockoutAlarmThreshold;
    alarm(
      'CredentialStuffing',
      `Possible credential stuffing: at least ${failures} failed password grants, or ${lockouts} source addresses out of their daily failure budget, in 5 minutes`,
      new MathExpression({
        label: `1 while failed password grants >= ${failures} or IP-budget lockouts >= ${lockouts} (5 minutes)`,
        // A period without a lockout line has no data point at all: count it as 0, not as missing.
        expression: `IF(FILL(failed, 0) >= ${failures} || FILL(lockedOut, 0) >= ${lockouts}, 1, 0)`,
        usingMetrics: {
          // The service-wide EMF count (dimension set `service` alone; the per-reason counts sit beside it).
          failed: new Metric({
            namespace: METRICS_NAMESPACE,
            metricName: PASSWORD_FAILURE_EVENT,
            dimensionsMap: { service: props.stackName },
            statistic: 'Sum',
            period: PERIOD,
          }),
          lockedOut: ipBudgetLockouts.metric({ statistic: 'Sum', period: PERIOD }),
        },
        period: PERIOD,
      }),
      1,
    );
  }
}
