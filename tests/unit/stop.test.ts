import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminInitiateAuthCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { makeHandler as stopRunHandler } from '../../src/handlers/stop-run';
import { parseRunInput } from '../../src/lib/input';
import type { WorkerSummary } from '../../src/lib/load/summary';
import { buildPlan } from '../../src/lib/plan';
import { runWorker } from '../../src/lib/worker';
import { awsError } from '../helpers';

/** The stop switch, end to end in one worker: a marker in S3 stops every user within a poll or two. */
describe('stop switch', () => {
  const cognito = mockClient(CognitoIdentityProviderClient);
  const sm = mockClient(SecretsManagerClient);
  const s3 = mockClient(S3Client);
  let server: Server;
  let received = 0;
  let status = 200;
  let url: URL;

  beforeEach(async () => {
    cognito.reset();
    sm.reset();
    s3.reset();
    received = 0;
    status = 200;
    server = createServer((req, res) => {
      received++;
      req.resume();
      res.statusCode = status;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ users: { loadtestuser0: 'Pw-0!aA-xxxxxxx' } }),
    });
    cognito.on(AdminInitiateAuthCommand).resolves({ AuthenticationResult: { AccessToken: 't', ExpiresIn: 3600 } });
    s3.on(PutObjectCommand).resolves({});
    s3.on(GetObjectCommand).rejects(awsError('NoSuchKey'));
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const deps = () => ({
    pool: { client: new CognitoIdentityProviderClient({}), userPoolId: 'pool', clientId: 'client' },
    secrets: new SecretsManagerClient({}),
    results: { client: new S3Client({}), bucket: 'results' },
    secretPrefix: 's/test-users/',
    target: url,
    retry: { sleep: async () => {} },
    stopPollMs: 50,
  });
  const summaryWritten = (): WorkerSummary =>
    JSON.parse(
      String(
        s3.commandCalls(PutObjectCommand).find((c) => String(c.args[0].input.Key).includes('/users/'))?.args[0].input
          .Body,
      ),
    );

  it('stops a running worker when the marker appears, and counts what it did not send', async () => {
    const plan = buildPlan(
      parseRunInput({
        users: { NumberOfUsers: 1, StartDelaySeconds: 0 },
        load: { model: 'rate', ratePerSecond: 50, durationSeconds: 10 },
      }),
      'run-s',
      'k',
      800,
    );
    setTimeout(() => {
      s3.on(GetObjectCommand, { Key: 'runs/run-s/stop.json' }).resolves({
        Body: { transformToString: async () => JSON.stringify({ stoppedAt: 'now', reason: 'test' }) },
      } as never);
    }, 300);
    const started = Date.now();
    await runWorker({ firstUser: 0, lastUser: 0, settings: plan.worker, armedAt: new Date().toISOString() }, deps());
    // Ten seconds of load ended within a poll or two of the marker.
    expect(Date.now() - started).toBeLessThan(5_000);
    const summary = summaryWritten();
    expect(summary.counters.total).toBe(received);
    expect(summary.counters.total + summary.counters.notSent + summary.counters.dropped).toBe(500);
    expect(summary.counters.notSent).toBeGreaterThan(300);
  });

  it('abortOnFail: a user above the error rate raises the stop for everyone', async () => {
    status = 500;
    const plan = buildPlan(
      parseRunInput({
        users: { NumberOfUsers: 1, StartDelaySeconds: 0, NumberOfCallsPerUser: 1_000 },
        thresholds: { maxErrorRate: 0.1, abortOnFail: { minRequests: 20 } },
      }),
      'run-a',
      'k',
      800,
    );
    await runWorker({ firstUser: 0, lastUser: 0, settings: plan.worker, armedAt: new Date().toISOString() }, deps());
    const marker = s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === 'runs/run-a/stop.json');
    expect(JSON.parse(String(marker?.args[0].input.Body)).reason).toMatch(
      /abortOnFail: loadtestuser0 error rate 100\.00 % > 10 % after 20 requests/,
    );
    const summary = summaryWritten();
    expect(summary.counters.total).toBe(20);
    expect(summary.counters.notSent).toBe(980);
  });

  it('stopRun writes the marker for a valid run id and refuses anything else', async () => {
    const runtime = () => ({ results: { client: new S3Client({}), bucket: 'results' } }) as never;
    await expect(stopRunHandler(runtime)({ runId: 'run-1' })).resolves.toEqual({ runId: 'run-1', stopped: true });
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toBe('runs/run-1/stop.json');
    await expect(stopRunHandler(runtime)({ runId: '../x' })).rejects.toMatchObject({ name: 'InvalidInput' });
  });
});
