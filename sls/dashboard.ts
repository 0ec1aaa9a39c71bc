/**
 * A CloudWatch dashboard of the workers' live metrics (src/lib/metrics/emf.ts): requests, failures by
 * kind and latency percentiles per run, for every run of the stack (SEARCH finds each run's RunId).
 * Built here rather than in resources/ because its body is JSON inside a string, with the region in it.
 */
import { METRICS_NAMESPACE } from '../src/lib/metrics/emf';
import { STACK } from './iam';

const REGION = '__REGION__';

const search = (metric: string, stat: string, extra = '') =>
  `SEARCH('{${METRICS_NAMESPACE},Stack,RunId${extra}} MetricName="${metric}" Stack="${STACK}"', '${stat}', 10)`;

const widget = (title: string, expressions: { expression: string; label: string }[], y: number, unit: string) => ({
  type: 'metric',
  x: 0,
  y,
  width: 24,
  height: 6,
  properties: {
    title,
    region: REGION,
    view: 'timeSeries',
    stacked: false,
    period: 10,
    yAxis: { left: { label: unit, showUnits: false } },
    metrics: expressions.map((e, i) => [{ expression: e.expression, label: e.label, id: `e${i}` }]),
  },
});

const body = {
  widgets: [
    widget('Requests per 10 s, by run', [{ expression: search('Requests', 'Sum'), label: '' }], 0, 'requests'),
    widget(
      'Latency (ms), all workers merged',
      ['p50', 'p95', 'p99'].map((p) => ({ expression: search('Latency', p), label: p })),
      6,
      'ms',
    ),
    widget(
      'Failures per 10 s, by kind',
      [{ expression: search('FailuresByKind', 'Sum', ',Kind'), label: '' }],
      12,
      'failures',
    ),
  ],
};

/** The dashboard's body with the stack's region put in through CloudFormation. */
function bodyWithRegion(): unknown {
  const parts = JSON.stringify(body).split(`"${REGION}"`);
  const joined: unknown[] = [];
  parts.forEach((part, i) => {
    if (i > 0) joined.push('"', { Ref: 'AWS::Region' }, '"');
    joined.push(part);
  });
  return { 'Fn::Join': ['', joined] };
}

export const DASHBOARD_NAME = `${STACK}-load`;

export function dashboardResources(): { Resources: Record<string, unknown>; Outputs: Record<string, unknown> } {
  return {
    Resources: {
      LoadDashboard: {
        Type: 'AWS::CloudWatch::Dashboard',
        Properties: { DashboardName: DASHBOARD_NAME, DashboardBody: bodyWithRegion() },
      },
    },
    Outputs: {
      DashboardUrl: {
        Description:
          'CloudWatch dashboard with the live metrics of every run (requests, failures, latency percentiles)',
        Value: {
          'Fn::Join': [
            '',
            [
              'https://',
              { Ref: 'AWS::Region' },
              '.console.aws.amazon.com/cloudwatch/home?region=',
              { Ref: 'AWS::Region' },
              '#dashboards:name=',
              { Ref: 'LoadDashboard' },
            ],
          ],
        },
      },
    },
  };
}
