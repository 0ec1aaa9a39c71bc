import {
  DescribeKeyCommand,
  KMSClient,
  ListAliasesCommand,
  paginateListKeys,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { prepareRun } from '../../src/lib/prepare';
import { KmsSecretsEmulator } from '../../src/local/kms-secrets-emulator';

/** The run's key through prepareRun, against the emulator with AWS's throttling injected. */
describe('user set key under throttling', () => {
  const emulator = new KmsSecretsEmulator();
  let kms: KMSClient;
  const deps = () => ({
    kms,
    keyAlias: 'alias/s-test-users',
    stackName: 's',
    accountRootArn: 'arn:aws:iam::000000000000:root',
    keyRetirerRoleArns: ['arn:aws:iam::000000000000:role/s-planRun'],
    maxConcurrentWorkers: 10,
    retry: { attempts: 4, baseMs: 1 },
  });
  const event = { input: { users: { NumberOfUsers: '2', NumberOfCallsPerUser: '1' } }, executionName: 'e' };

  /** Every key with its state and whether an alias points at it, read back through the API. */
  async function keys(): Promise<{ keyId: string; state: string; aliased: boolean }[]> {
    const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases ?? [];
    const out = [];
    for await (const page of paginateListKeys({ client: kms }, {})) {
      for (const { KeyId } of page.Keys ?? []) {
        const meta = (await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata;
        out.push({
          keyId: KeyId as string,
          state: String(meta?.KeyState),
          aliased: aliases.some((a) => a.TargetKeyId === KeyId),
        });
      }
    }
    return out;
  }

  beforeAll(async () => {
    kms = new KMSClient({
      endpoint: await emulator.start(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    kms.destroy();
    await emulator.stop();
  });

  it('a throttled alias is retried with the same key: one key in total', async () => {
    emulator.injectThrottling({ operation: 'CreateAlias', count: 2 });
    const plan = await prepareRun(event, deps());
    expect(emulator.calls.get('TrentService.CreateKey')).toBe(1);
    expect(emulator.calls.get('TrentService.CreateAlias')).toBe(3);
    expect(await keys()).toEqual([{ keyId: plan.keyId, state: 'Enabled', aliased: true }]);
  });

  it('an alias throttled past the retries leaves no enabled key without an alias', async () => {
    // Start from a key pending deletion, as after a cleanup, so the run must make a new one.
    const first = (await keys())[0]?.keyId as string;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: first, PendingWindowInDays: 7 }));
    emulator.injectThrottling({ operation: 'CreateAlias', count: 4 });
    await expect(prepareRun(event, deps())).rejects.toMatchObject({ name: 'ThrottlingException' });
    const after = await keys();
    expect(after).toHaveLength(2);
    expect(after.filter((k) => k.state !== 'PendingDeletion')).toEqual([]);

    // The next run, unthrottled, ends with exactly one usable key, and the alias points at it.
    const plan = await prepareRun(event, deps());
    const usable = (await keys()).filter((k) => k.state !== 'PendingDeletion');
    expect(usable).toEqual([{ keyId: plan.keyId, state: 'Enabled', aliased: true }]);
  });
});
