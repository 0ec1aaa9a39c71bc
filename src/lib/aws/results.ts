import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

export interface ResultsStore {
  readonly client: S3Client;
  readonly bucket: string;
}

export const runPrefix = (runId: string): string => `runs/${runId}/`;
export const reportKeys = (runId: string): { json: string; html: string; junit: string } => ({
  json: `${runPrefix(runId)}report.json`,
  html: `${runPrefix(runId)}report.html`,
  junit: `${runPrefix(runId)}report.junit.xml`,
});

/** Where each user's summary goes: one object per user, whichever worker ran it. */
export const userSummaryPrefix = (runId: string): string => `${runPrefix(runId)}users/`;
export const userSummaryKey = (runId: string, userIndex: number): string =>
  `${userSummaryPrefix(runId)}${String(userIndex).padStart(5, '0')}.json`;

/** The rows of a run's data file for the users of one shard (see data.ts), written by the plan step. */
export const dataShardKey = (runId: string, shard: number): string =>
  `${runPrefix(runId)}data/shard-${String(shard).padStart(5, '0')}.json`;

/** The stop switch's marker (see stop.ts). */
export const stopKey = (runId: string): string => `${runPrefix(runId)}stop.json`;

/** Where the failure recorder notes a worker that did not finish, one object per worker. */
export const workerFailurePrefix = (runId: string): string => `${runPrefix(runId)}failed-workers/`;
export const workerFailureKey = (runId: string, firstUser: number): string =>
  `${workerFailurePrefix(runId)}${String(firstUser).padStart(5, '0')}.json`;

export async function putObject(store: ResultsStore, key: string, body: string, contentType: string): Promise<void> {
  await store.client.send(
    new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: body, ContentType: contentType }),
  );
}

export const putJson = (store: ResultsStore, key: string, value: unknown): Promise<void> =>
  putObject(store, key, JSON.stringify(value), 'application/json');

export async function getJson<T>(store: ResultsStore, key: string): Promise<T> {
  const out = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  const text = await out.Body?.transformToString('utf8');
  return JSON.parse(text ?? 'null') as T;
}

export async function listKeys(store: ResultsStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.client.send(
      new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}
