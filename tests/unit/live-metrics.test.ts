import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminInitiateAuthCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { parseRunInput } from '../../src/lib/input';
import { METRICS_NAMESPACE } from '../../src/lib/metrics/emf';
import { buildPlan } from '../../src/lib/plan';
import { runWorker } from '../../src/lib/worker';
import { awsError } from '../helpers';

/** A worker's EMF lines, as --verbose shows them locally and CloudWatch Logs reads them in AWS. */
describe('live metrics of a worker', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const sm = mockClient(SecretsManagerClient);
  const s3 = mockClient(S3Client);
  let server: Server;
  let n = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      n++;
      req.resume();
      res.statusCode = n % 5 === 0 ? 503 : 200;
      setTimeout(() => res.end('{}'), 5);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('publishes every outcome once, by interval, with failures by kind and the latency distribution', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser0: 'Pw-0!aA-xxxxxxx', loadtestuser1: 'Pw-1!aA-xxxxxxx' } }),
    });
    cognito.on(AdminInitiateAuthCommand).resolves({ AuthenticationResult: { AccessToken: 't', ExpiresIn: 3600 } });
    s3.on(PutObjectCommand).resolves({});
    s3.on(GetObjectCommand).rejects(awsError('NoSuchKey'));
    const plan = buildPlan(
      parseRunInput({
        users: { NumberOfUsers: 2, StartDelaySeconds: 0 },
        load: { model: 'rate', ratePerSecond: 40, durationSeconds: 1 },
      }),
      'run-m',
      'k',
      800,
    );
    const lines: string[] = [];
    await runWorker(
      { firstUser: 0, lastUser: 1, settings: { ...plan.worker, usersPerWorker: 2 }, armedAt: new Date().toISOString() },
      {
        pool: { client: new CognitoIdentityProviderClient({}), userPoolId: 'pool', clientId: 'client' },
        secrets: new SecretsManagerClient({}),
        results: { client: new S3Client({}), bucket: 'results' },
        secretPrefix: 's/test-users/',
        target: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`),
        retry: { sleep: async () => {} },
        stackName: 'apiloadtest-dev',
        emitMetrics: (line) => lines.push(line),
        metricsIntervalMs: 250,
      },
    );
    const records = lines.map((line) => JSON.parse(line));
    const main = records.filter((r) => r.Requests !== undefined);
    expect(main.length).toBeGreaterThan(1);
    for (const r of records) {
      expect(r._aws.CloudWatchMetrics[0].Namespace).toBe(METRICS_NAMESPACE);
      expect(r).toMatchObject({ Stack: 'apiloadtest-dev', RunId: 'run-m' });
    }
    // Every request counted once across the intervals: 2 users × 40/s × 1 s.
    expect(main.reduce((sum, r) => sum + r.Requests, 0)).toBe(80);
    const latencyCounts = main.reduce(
      (sum, r) => sum + (r.Latency?.Counts ?? []).reduce((a: number, b: number) => a + b, 0),
      0,
    );
    expect(latencyCounts).toBe(80);
    const fiveXx = records.filter((r) => r.Kind === '5xx').reduce((sum, r) => sum + r.FailuresByKind, 0);
    expect(fiveXx).toBe(main.reduce((sum, r) => sum + r.Failures, 0));
    expect(fiveXx).toBe(16);
  });
});
