import { functionLogicalId } from './definitions';

/** One Lambda per task; the keys give the logical ids the ASL refers to (`planRun` -> `PlanRunLambdaFunction`). */
export const functions = {
  planRun: { handler: 'src/handlers/plan-run.handler', timeout: 30, memorySize: 256 },
  provisionUsers: { handler: 'src/handlers/provision-users.handler', timeout: 600, memorySize: 256 },
  runWorker: { handler: 'src/handlers/run-worker.handler', timeout: 900, memorySize: 1024 },
  aggregateResults: { handler: 'src/handlers/aggregate-results.handler', timeout: 600, memorySize: 2048 },
  deleteTestUsers: { handler: 'src/handlers/delete-test-users.handler', timeout: 900, memorySize: 256 },
  /** The stop switch: `npx sls invoke -f stopRun --data '{"runId":"…"}'`. */
  stopRun: { handler: 'src/handlers/stop-run.handler', timeout: 30, memorySize: 256 },
} as const;

export type FunctionKey = keyof typeof functions;

/** The ASL refers to functions by logical id; this map turns one back into a function key. */
export const functionByLogicalId: Record<string, FunctionKey> = Object.fromEntries(
  (Object.keys(functions) as FunctionKey[]).map((key) => [functionLogicalId(key), key]),
);
