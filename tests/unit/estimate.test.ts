import { estimateRun, provisionSeconds } from '../../src/lib/estimate/estimate';
import { PRICES, pricesFor } from '../../src/lib/estimate/prices';
import { parseRunInput } from '../../src/lib/input';

const defaults = { cognitoWriteRps: 40, maxConcurrentWorkers: 800, region: 'us-east-1' };
const cost = (e: ReturnType<typeof estimateRun>, service: string) =>
  e.cost.lines.find((line) => line.service === service)?.usd;
const codes = (e: ReturnType<typeof estimateRun>) => e.warnings.map((w) => w.code).sort();

// Prices assumed by the hand-worked examples (us-east-1): Lambda arm64 $0.0000133334/GB-s and $0.20 per
// million requests; Step Functions $0.025 per 1,000 transitions; S3 $0.005 per 1,000 PUT/LIST and
// $0.0004 per 1,000 GET; Secrets Manager $0.40 per secret-month and $0.05 per 10,000 calls; KMS $1 per
// key-month and $0.03 per 10,000 requests; Cognito 10,000 MAU free; Logs $0.50/GB (eu-west-1: $0.57).
describe('estimateRun, hand-worked examples', () => {
  /*
   * Example 1: 10,000 users × 100 calls (iterations, 1 in flight), cognitoWriteRps 40, budget 800, 100 ms.
   *
   * Provision: 100 shards of 100 users; 5 at a time, each at 40/5 = 8 Cognito writes/s; a shard makes
   *   100 × 2 = 200 writes = 25 s; 100 / 5 = 20 rounds → 500 s (= 20,000 writes / 40 per s).
   * Workers: ceil(10,000 / 800) = 13 users each → ceil(10,000 / 13) = 770 workers; groups of 40 × 13 = 520
   *   users → ceil(10,000 / 520) = 20 groups (0.2 s of Map child starts at 100/s).
   * Start delay: 5 + 10,000 / 100 = 105 s (logins at the 120/s quota take 83.3 s) → start-up 1 + 500 + 105 = 606 s.
   * Load: 100 requests × 100 ms / 1 in flight = 10 s (assumed). A worker runs 105 + 10 + 1 = 116 s.
   * Aggregate: 10,000 × 50 ms / 32 + 2 = 17.625 s; run = 606 + 10 + 1 + 17.625 = 634.625 s.
   * Cleanup: 10,000 / 40 + 2 = 252 s.
   * GB-s: plan 1 × 0.25 = 0.25; provision 100 × 25 × 0.25 = 625; workers 770 × 116 × 1 = 89,320;
   *   aggregate 17.625 × 2 = 35.25; cleanup 252 × 0.25 = 63 → 90,043.5 GB-s; 1 + 100 + 770 + 1 + 1 = 873 invocations.
   *   Lambda = 90,043.5 × 0.0000133334 + 873 × 0.2 / 1e6 = $1.2007606.
   * Transitions: parent 7 + 100 shards; children 20 × 3 + 770 RunWorker; cleanup 1 → 938 → $0.02345.
   * S3: PUT/LIST 10,000 summaries + 2 reports + 10 + 1 listings = 10,013; GET 770 × 116 polls + 10,000 + 1
   *   = 99,321 → $0.050065 + $0.0397284 = $0.0897934.
   * Worker secret reads: 770 workers + 92 that straddle a shard boundary (99 boundaries 100..9,900, of
   *   which 1,300·k for k = 1..7 fall on a worker's first user) = 862.
   * Secrets Manager: 100 × (read + create + delete) + 862 + 1 listing = 1,163 calls; 100 secrets for
   *   ceil((634.625 + 252) / 3600) = 1 h → 100 × 0.40 / 730 + 1,163 × 0.05 / 10,000 = $0.0606095.
   * KMS: 3 (first run) + 100 GenerateDataKey + 862 Decrypt + 6 (cleanup) = 971 → 1 / 730 + 971 × 0.03 / 10,000 = $0.0042829.
   * Cognito: 10,000 MAU, all free. Logs: 873 KiB = 0.00083256 GB × 0.5 = $0.0004163.
   * Total $1.3793127. Target: 1,000,000 requests; 10,000 users × 10/s = 100,000 requests/s.
   */
  it('10,000 users × 100 calls: quota-bound start-up, cost per service, API Gateway warning', () => {
    const e = estimateRun(parseRunInput({ users: { NumberOfUsers: 10_000, NumberOfCallsPerUser: 100 } }), defaults);
    expect(e.plan).toEqual({
      users: 10_000,
      shards: 100,
      usersPerWorker: 13,
      workers: 770,
      groups: 20,
      startDelaySeconds: 105,
    });
    const step = (name: string) => e.timeline.steps.find((s) => s.step === name);
    expect(step('create users')).toMatchObject({ startsAt: 1, seconds: 500, quotaBound: true });
    expect(step('logins')?.seconds).toBeCloseTo(83.333, 3);
    expect(step('map child starts')?.seconds).toBeCloseTo(0.2, 9);
    expect(step('lambda scaling')?.seconds).toBe(0);
    expect(step('load')).toMatchObject({ startsAt: 606, seconds: 10, assumed: true });
    expect(e.timeline).toMatchObject({
      startupSeconds: 606,
      loadSeconds: 10,
      runSeconds: 634.625,
      cleanupSeconds: 252,
    });
    expect(e.lambda.workerSeconds).toBe(116);
    expect(e.lambda.functions.runWorker).toEqual({
      invocations: 770,
      memoryMb: 1024,
      seconds: 89_320,
      gbSeconds: 89_320,
    });
    expect(e.lambda.functions.provisionUsers.gbSeconds).toBeCloseTo(625, 9);
    expect(e.lambda.gbSeconds).toBeCloseTo(90_043.5, 6);
    expect(e.lambda.invocations).toBe(873);
    expect(e.lambda).toMatchObject({ peakConcurrency: 770, budget: 800 });
    expect(e.usage.stateTransitions).toBe(938);
    expect(e.usage.s3).toEqual({ putListRequests: 10_013, getRequests: 99_321 });
    expect(e.usage.secretsManager).toEqual({ secrets: 100, apiCalls: 1_163, secretHours: 100 });
    expect(e.usage.kms).toEqual({ keys: 1, requests: 971, keyHours: 1 });
    expect(e.usage.cognito).toEqual({ userCreationCalls: 20_000, logins: 10_000, deletions: 10_000 });
    expect(e.usage.cognitoMau).toBe(10_000);
    expect(e.target).toEqual({ requests: 1_000_000, requestsAssumed: false, peakRps: 100_000, peakRpsAssumed: true });
    expect(cost(e, 'Lambda')).toBeCloseTo(1.2007606, 7);
    expect(cost(e, 'Step Functions')).toBeCloseTo(0.02345, 9);
    expect(cost(e, 'S3')).toBeCloseTo(0.0897934, 9);
    expect(cost(e, 'Secrets Manager')).toBeCloseTo(0.0606095, 7);
    expect(cost(e, 'KMS')).toBeCloseTo(0.0042829, 7);
    expect(cost(e, 'Cognito')).toBe(0);
    expect(cost(e, 'CloudWatch Logs')).toBeCloseTo(0.0004163, 7);
    expect(e.cost.totalUsd).toBeCloseTo(1.3793127, 6);
    expect(codes(e)).toEqual(['RequestRateAboveApiGatewayQuota', 'StartupQuotaBound']);
    expect(e.warnings.find((w) => w.code === 'StartupQuotaBound')?.message).toMatch(
      /606 s .*500 s to create 10,000 users/,
    );
  });

  /*
   * Example 2: 100 users × 20 calls in eu-west-1.
   * Provision: 1 shard uses one of the 5 slots, so 8 writes/s, not 40: 200 writes / 8 = 25 s.
   * Workers: 1 user each → 100 workers in ceil(100 / 40) = 3 groups. Start delay 5 + 100 / 100 = 6 s;
   *   start-up 1 + 25 + 6 = 32 s: no start-up warning. Load 20 × 100 ms = 2 s; a worker runs 6 + 2 + 1 = 9 s.
   * GB-s: 0.25 + 25 × 0.25 + 100 × 9 + (100 × 0.05 / 32 + 2) × 2 + (100 / 40 + 2) × 0.25
   *   = 0.25 + 6.25 + 900 + 4.3125 + 1.125 = 911.9375.
   * Transitions: 7 + 1 + 3 × 3 + 100 + 1 = 118. Peak 100 × 10 = 1,000 requests/s: under 10,000.
   * Logs: 104 invocations × 1 KiB at eu-west-1's $0.57/GB.
   */
  it('100 users × 20 calls in eu-west-1: a small run warns of nothing', () => {
    const e = estimateRun(parseRunInput({ users: { NumberOfUsers: 100, NumberOfCallsPerUser: 20 } }), {
      ...defaults,
      region: 'eu-west-1',
    });
    expect(e.plan).toMatchObject({ shards: 1, usersPerWorker: 1, workers: 100, groups: 3, startDelaySeconds: 6 });
    expect(e.timeline.startupSeconds).toBe(32);
    expect(e.lambda.workerSeconds).toBe(9);
    expect(e.lambda.gbSeconds).toBeCloseTo(911.9375, 9);
    expect(e.lambda.invocations).toBe(104);
    expect(e.usage.stateTransitions).toBe(118);
    expect(e.target.peakRps).toBe(1_000);
    expect(e.prices).toEqual({ date: PRICES.date, pricedAs: 'eu-west-1', fallback: false });
    expect(cost(e, 'CloudWatch Logs')).toBeCloseTo(((104 * 1024) / 1024 ** 3) * 0.57, 12);
    expect(e.warnings).toEqual([]);
  });

  /*
   * Example 3: 1,000 users at 20 requests/s for 600 s (rate model), in ap-south-1 (not in the table).
   * Provision: 10 shards = 2 rounds of 25 s = 50 s. Workers: ceil(1,000 / 800) = 2 users each (2 × 20 in
   *   flight = 40 connections) → 500 workers. Start delay 5 + 10 = 15 s; start-up 1 + 50 + 15 = 66 s.
   * A worker runs 15 + 600 + 1 = 616 s → 500 × 616 = 308,000 GB-s for the workers.
   * Target: 1,000 × 20 × 600 = 12,000,000 requests, 20,000 requests/s: above API Gateway's 10,000.
   * Fits Lambda: 900 − 30 − 15 − 0 − 10 (timeout) = 845 s ≥ 600 s.
   */
  it('1,000 users at 20 req/s for 600 s: fixed duration, fallback prices, rate warning', () => {
    const e = estimateRun(
      parseRunInput({
        users: { NumberOfUsers: 1_000 },
        load: { model: 'rate', ratePerSecond: 20, durationSeconds: 600 },
      }),
      { ...defaults, region: 'ap-south-1' },
    );
    expect(e.plan).toMatchObject({ shards: 10, usersPerWorker: 2, workers: 500, startDelaySeconds: 15 });
    expect(e.timeline).toMatchObject({ startupSeconds: 66, loadSeconds: 600, loadSecondsAssumed: false });
    expect(e.lambda.functions.runWorker.gbSeconds).toBe(308_000);
    expect(e.target).toEqual({ requests: 12_000_000, requestsAssumed: false, peakRps: 20_000, peakRpsAssumed: false });
    expect(e.prices).toMatchObject({ pricedAs: 'us-east-1', fallback: true });
    expect(e.assumptions.join('\n')).toMatch(/no prices for ap-south-1 in the table: us-east-1's are used/);
    expect(codes(e)).toEqual(['RequestRateAboveApiGatewayQuota']);
  });
});

describe('estimateRun warnings', () => {
  it('reports what the Plan state would refuse instead of throwing', () => {
    const e = estimateRun(
      parseRunInput({ users: { NumberOfUsers: 10 }, load: { model: 'duration', durationSeconds: 900 } }),
      defaults,
    );
    expect(e.warnings).toEqual([
      { code: 'PlanRefused', message: expect.stringMatching(/load\.durationSeconds: 900 s of load cannot end/) },
    ]);
  });

  it('times provisioning at the Cognito quota when the configured rate is above it', () => {
    const e = estimateRun(parseRunInput({ users: { NumberOfUsers: 1_000, NumberOfCallsPerUser: 1 } }), {
      ...defaults,
      cognitoWriteRps: 100,
    });
    // 2,000 writes at the 50/s quota, not at 100/s.
    expect(e.timeline.steps.find((s) => s.step === 'create users')?.seconds).toBe(40);
    expect(codes(e)).toContain('CognitoRateAboveQuota');
  });

  it('warns when the load would outlast the worker Lambda at the assumed latency', () => {
    const input = parseRunInput({ users: { NumberOfUsers: 1, NumberOfCallsPerUser: 10_000 } });
    expect(codes(estimateRun(input, { ...defaults, assumedLatencyMs: 50 }))).toEqual([]);
    // 10,000 × 100 ms = 1,000 s of load: more than 900 s.
    expect(codes(estimateRun(input, { ...defaults, assumedLatencyMs: 100 }))).toEqual(['LambdaTimeLimit']);
  });

  it('warns when logins cannot finish inside a start delay that was given', () => {
    const e = estimateRun(
      parseRunInput({ users: { NumberOfUsers: 1_200, NumberOfCallsPerUser: 1, StartDelaySeconds: 5 } }),
      defaults,
    );
    // 1,200 logins at 120/s = 10 s > 5 s.
    expect(codes(e)).toContain('LoginsExceedStartDelay');
  });
});

describe('provisionSeconds', () => {
  it('uses the whole write rate only with at least as many shards as parallel slots', () => {
    expect(provisionSeconds(10_000, 40)).toBe(500);
    expect(provisionSeconds(100, 40)).toBe(25);
    // Five full shards in parallel (25 s), then 50 users (100 writes at 8/s = 12.5 s).
    expect(provisionSeconds(550, 40)).toBe(37.5);
  });
});

describe('pricesFor', () => {
  it('falls back to the table fallback region and says so', () => {
    expect(pricesFor('us-east-1')).toMatchObject({ pricedAs: 'us-east-1', fallback: false });
    expect(pricesFor('sa-east-1')).toMatchObject({ pricedAs: PRICES.fallbackRegion, fallback: true });
    expect(PRICES.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});
