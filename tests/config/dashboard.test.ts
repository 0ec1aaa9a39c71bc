import { dashboardResources } from '../../sls/dashboard';
import { METRICS_NAMESPACE } from '../../src/lib/metrics/emf';

/** Resolves the body's Fn::Join the way CloudFormation would, for one region. */
function resolveBody(join: { 'Fn::Join': [string, unknown[]] }, region: string): string {
  return join['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : region)).join('');
}

describe('the live-metrics dashboard', () => {
  const { Resources, Outputs } = dashboardResources();
  const dashboard = Resources.LoadDashboard as { Type: string; Properties: { DashboardBody: any } };

  it('is a CloudWatch dashboard whose body is valid JSON once the region is in', () => {
    expect(dashboard.Type).toBe('AWS::CloudWatch::Dashboard');
    const body = JSON.parse(resolveBody(dashboard.Properties.DashboardBody, 'eu-west-1'));
    expect(body.widgets).toHaveLength(3);
    for (const widget of body.widgets) expect(widget.properties.region).toBe('eu-west-1');
  });

  it('searches the metrics the workers emit, latency as percentiles of the merged distribution', () => {
    const text = resolveBody(dashboard.Properties.DashboardBody, 'us-east-1');
    for (const metric of ['Requests', 'Latency', 'FailuresByKind']) {
      expect(text).toContain(`{${METRICS_NAMESPACE},Stack,RunId`);
      expect(text).toContain(`MetricName=\\"${metric}\\"`);
    }
    for (const p of ['p50', 'p95', 'p99']) expect(text).toContain(`'${p}', 10)`);
  });

  it('puts its console URL in the stack outputs', () => {
    expect(JSON.stringify(Outputs.DashboardUrl)).toContain('#dashboards:name=');
  });
});
