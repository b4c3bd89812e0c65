import { Duration, Stack } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { Dashboard, GraphWidget, type IMetric, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { type AuditEvent, METRICS_NAMESPACE } from '../contract/audit-events';

export interface ServiceDashboardProps {
  readonly stage: Stage;
  readonly tokenFunction: IFunction;
  /** The `service` dimension of the audit-event metrics (SERVICE_NAME, which the stack sets to its name). */
  readonly stackName: string;
}

/** The audit events the dashboard graphs, by widget. */
export const DASHBOARD_GRANT_EVENTS: readonly AuditEvent[] = [
  'password_grant_succeeded',
  'password_grant_failed',
  'refresh_grant_succeeded',
  'refresh_grant_failed',
];
export const DASHBOARD_SECURITY_EVENTS: readonly AuditEvent[] = ['refresh_token_reuse_detected', 'lockout_started'];

const PERIOD = Duration.minutes(5);

/** Two graphs side by side per row. */
function graph(title: string, left: IMetric[]): GraphWidget {
  return new GraphWidget({ title, left, width: 12, height: 6 });
}

/**
 * One CloudWatch dashboard for the service: grants and their failures, refresh-token reuse and lockouts
 * (the audit events' EMF counts, service-wide: dimension `service` alone), the token function's duration
 * (p50, p99), errors and throttles, and the API's 4xx, 5xx and latency.
 */
export class ServiceDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ServiceDashboardProps) {
    super(scope, id);
    const event = (name: AuditEvent): IMetric =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: props.stackName },
        statistic: 'Sum',
        period: PERIOD,
        label: name,
      });
    const fn = props.tokenFunction;
    const { stage } = props;

    this.dashboard = new Dashboard(this, 'Dashboard', {
      // Dashboard names are unique in an account across its regions: a stack name may be reused per region.
      dashboardName: `${props.stackName}-${Stack.of(this).region}`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          graph('Grants (5 minutes)', DASHBOARD_GRANT_EVENTS.map(event)),
          graph('Refresh-token reuse and lockouts (5 minutes)', DASHBOARD_SECURITY_EVENTS.map(event)),
        ],
        [
          graph('Token function duration', [
            fn.metricDuration({ statistic: 'p50', period: PERIOD, label: 'p50' }),
            fn.metricDuration({ statistic: 'p99', period: PERIOD, label: 'p99' }),
          ]),
          graph('Token function errors and throttles (5 minutes)', [
            fn.metricErrors({ statistic: 'Sum', period: PERIOD, label: 'Errors' }),
            fn.metricThrottles({ statistic: 'Sum', period: PERIOD, label: 'Throttles' }),
          ]),
        ],
        [
          graph('API 4xx and 5xx responses (5 minutes)', [
            stage.metricClientError({ statistic: 'Sum', period: PERIOD, label: '4xx' }),
            stage.metricServerError({ statistic: 'Sum', period: PERIOD, label: '5xx' }),
          ]),
          graph('API latency', [
            stage.metricLatency({ statistic: 'p50', period: PERIOD, label: 'p50' }),
            stage.metricLatency({ statistic: 'p99', period: PERIOD, label: 'p99' }),
          ]),
        ],
      ],
    });
  }
}
