import { InvalidInputError } from './errors';
import { DEFAULT_MAX_QUEUE_MS, type LoadModel, type Stage } from './load/model';
import { DEFAULT_REQUEST_NAME, type NamedRequest, type Scenario } from './load/scenario';
import { columnsOf, parseTemplate, sampleOf } from './load/template';

/** Hard limits, each tied to a quota (DESIGN §6). */
export const LIMITS = {
  /** 10,000 users ≈ 200 s of Cognito user creation at 50 RPS; more is refused rather than throttled for an hour. */
  maxUsers: 10_000,
  /** Lambda runs 15 min at most; a user's calls must fit in one invocation. */
  maxCallsPerUser: 100_000,
  /** Lambda allows 1,024 file descriptors: one connection per in-flight request, with headroom. */
  maxConcurrencyPerUser: 256,
  maxUsersPerWorker: 100,
  /** Connections one worker Lambda may hold: users per worker × concurrency per user, under its 1,024 fds. */
  maxConnectionsPerWorker: 900,
  maxTimeoutMs: 60_000,
  /** A user's load must end inside one 15-minute Lambda invocation (the plan checks the margins). */
  maxDurationSeconds: 900,
  /** Per user: 10,000 users × 1,000 req/s is far past any API Gateway quota already. */
  maxRatePerSecond: 1_000,
  maxStages: 100,
  maxQueueMs: 60_000,
  maxStartDelaySeconds: 600,
  maxHeaderBytes: 8_192,
  maxBodyBytes: 64 * 1024,
  /** Named requests in a scenario: each has its own counters and histogram in every user's summary. */
  maxRequests: 20,
  /**
   * All requests together (paths, headers, bodies): the scenario travels in Step Functions state to
   * every worker, and a state holds at most 256 KiB.
   */
  maxScenarioBytes: 64 * 1024,
  /** The per-user data file: the plan step reads it whole into one Lambda's memory. */
  maxDataBytes: 10 * 1024 * 1024,
  maxDataRows: 100_000,
} as const;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface RequestSpec {
  readonly method: HttpMethod;
  /** Path (and query) appended to the target URL's path. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  readonly timeoutMs: number;
}

export interface Thresholds {
  readonly p95Ms?: number;
  readonly p99Ms?: number;
  /** Failed requests / total, 0..1. */
  readonly maxErrorRate?: number;
  readonly minThroughputRps?: number;
  /** Worker Lambdas that may fail (crash, time out, lose their summary) before the run fails; 0 when absent. */
  readonly maxFailedWorkers?: number;
  /**
   * Stop the whole run when any user's own error rate exceeds maxErrorRate after minRequests of its
   * requests (the stop switch, raised by that worker).
   */
  readonly abortOnFail?: { readonly minRequests: number };
}

export interface RunInput {
  readonly users: number;
  /** What each user does: the seed's NumberOfCallsPerUser is the `iterations` model. */
  readonly load: LoadModel;
  /** User start times are spread evenly over this many seconds after the barrier (0: all at once). */
  readonly rampUpSeconds: number;
  /** Users one worker Lambda runs; undefined lets the plan choose from the concurrency budget. */
  readonly usersPerWorker: number | undefined;
  /** Undefined lets the plan leave time for every login (see startDelayFor). */
  readonly startDelaySeconds: number | undefined;
  /** The requests each iteration sends: the input's `request`, or its `requests` (and `flow`). */
  readonly scenario: Scenario;
  /** The per-user data file in the results bucket, when the templates read `{{data.COLUMN}}`. */
  readonly data: DataSource | null;
  readonly thresholds: Thresholds;
}

/** A data file in the results bucket: `.csv` with a header row, or `.json` holding an array of flat objects. */
export interface DataSource {
  readonly key: string;
}

export interface CleanupInput {
  /** Delete `loadtestuser0..N-1`; undefined means every test user of the stack. */
  readonly users: number | undefined;
}

export const DEFAULTS = {
  concurrencyPerUser: 1,
  method: 'GET' as HttpMethod,
  path: '',
  timeoutMs: 10_000,
};

/** Headers whose values the worker owns: the token, the target's host and the body's framing. */
const WORKER_HEADERS = ['authorization', 'host', 'content-length'];
/**
 * Connection-level headers (RFC 9110 §7.6.1) plus `expect`: they describe one hop, not the request, and
 * the HTTP client refuses them, so a load test cannot meaningfully set them.
 */
const HOP_BY_HOP_HEADERS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'http2-settings',
];
/** A header value the client sends as is: visible ASCII, spaces and tabs. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/** A request path (and query) the client sends as is: visible ASCII only. */
const PATH = /^\/[\x21-\x7e]*$/;

type Json = unknown;

const isObject = (value: Json): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads an integer given as a number or a decimal string (the seed sends strings). */
export function readInteger(value: Json, field: string, { min, max }: { min: number; max: number }): number {
  let parsed: number;
  if (typeof value === 'number') parsed = value;
  else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) parsed = Number(value);
  else throw new InvalidInputError(field, `must be a whole number, got ${describe(value)}`);
  if (!Number.isSafeInteger(parsed))
    throw new InvalidInputError(field, `must be a whole number, got ${describe(value)}`);
  if (parsed < min || parsed > max) {
    throw new InvalidInputError(field, `must be between ${min} and ${max}, got ${parsed}`);
  }
  return parsed;
}

function readNumber(value: Json, field: string, { min, max }: { min: number; max: number }): number {
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed)) {
    throw new InvalidInputError(field, `must be a number, got ${describe(value)}`);
  }
  if (parsed < min || parsed > max)
    throw new InvalidInputError(field, `must be between ${min} and ${max}, got ${parsed}`);
  return parsed;
}

function describe(value: Json): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function readSection(input: Record<string, Json>, field: string): Record<string, Json> {
  const value = input[field];
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new InvalidInputError(field, `must be an object, got ${describe(value)}`);
  return value;
}

function rejectUnknown(section: Record<string, Json>, prefix: string, known: readonly string[]): void {
  for (const key of Object.keys(section)) {
    if (!known.includes(key)) {
      throw new InvalidInputError(`${prefix}${key}`, `is not a known field (known: ${known.join(', ')})`);
    }
  }
}

/** Validates `createUsersAndFanOut` input (seed-compatible) into a typed, defaulted RunInput. */
export function parseRunInput(raw: Json): RunInput {
  if (!isObject(raw)) throw new InvalidInputError('input', `must be a JSON object, got ${describe(raw)}`);
  rejectUnknown(raw, '', ['users', 'load', 'request', 'requests', 'flow', 'data', 'thresholds']);
  if (raw.users === undefined)
    throw new InvalidInputError(
      'users',
      'is required, e.g. {"users":{"NumberOfUsers":"10","NumberOfCallsPerUser":"20"}}',
    );
  const users = readSection(raw, 'users');
  rejectUnknown(users, 'users.', [
    'NumberOfUsers',
    'NumberOfCallsPerUser',
    'ConcurrencyPerUser',
    'UsersPerWorker',
    'StartDelaySeconds',
  ]);
  const thresholds = readSection(raw, 'thresholds');
  rejectUnknown(thresholds, 'thresholds.', [
    'p95Ms',
    'p99Ms',
    'maxErrorRate',
    'minThroughputRps',
    'maxFailedWorkers',
    'abortOnFail',
  ]);
  const userCount = readInteger(users.NumberOfUsers, 'users.NumberOfUsers', { min: 1, max: LIMITS.maxUsers });
  const { load, rampUpSeconds } = parseLoad(raw, users);
  const scenario = parseScenario(raw);
  const data = parseData(raw, scenario);

  return {
    users: userCount,
    load,
    rampUpSeconds,
    usersPerWorker:
      users.UsersPerWorker === undefined
        ? undefined
        : readInteger(users.UsersPerWorker, 'users.UsersPerWorker', { min: 1, max: LIMITS.maxUsersPerWorker }),
    startDelaySeconds:
      users.StartDelaySeconds === undefined
        ? undefined
        : readInteger(users.StartDelaySeconds, 'users.StartDelaySeconds', { min: 0, max: LIMITS.maxStartDelaySeconds }),
    scenario,
    data,
    thresholds: parseThresholds(thresholds),
  };
}

const LOAD_MODELS = ['iterations', 'duration', 'rate', 'stages'] as const;

/** The fields each model takes under `load` (besides `model` and `rampUpSeconds`). */
const LOAD_FIELDS: Record<LoadModel['model'], readonly string[]> = {
  iterations: ['iterations', 'concurrency'],
  duration: ['durationSeconds', 'concurrency'],
  rate: ['ratePerSecond', 'durationSeconds', 'maxInFlight', 'maxQueueMs'],
  stages: ['stages', 'maxInFlight', 'maxQueueMs'],
};

/**
 * The workload model: `load` when given, else the seed's `users.NumberOfCallsPerUser` (and
 * `ConcurrencyPerUser`), which is the `iterations` model. Giving both is refused: one of them would be ignored.
 */
function parseLoad(raw: Record<string, Json>, users: Record<string, Json>): { load: LoadModel; rampUpSeconds: number } {
  const concurrency = (value: Json, field: string) =>
    value === undefined
      ? DEFAULTS.concurrencyPerUser
      : readInteger(value, field, { min: 1, max: LIMITS.maxConcurrencyPerUser });
  if (raw.load === undefined || raw.load === null) {
    if (users.NumberOfCallsPerUser === undefined) {
      throw new InvalidInputError(
        'users.NumberOfCallsPerUser',
        'is required unless a load model is given (e.g. "load": {"model": "rate", "ratePerSecond": 10, "durationSeconds": 60})',
      );
    }
    const iterations = readInteger(users.NumberOfCallsPerUser, 'users.NumberOfCallsPerUser', {
      min: 1,
      max: LIMITS.maxCallsPerUser,
    });
    return {
      load: {
        model: 'iterations',
        iterations,
        concurrency: concurrency(users.ConcurrencyPerUser, 'users.ConcurrencyPerUser'),
      },
      rampUpSeconds: 0,
    };
  }
  const section = readSection(raw, 'load');
  for (const seed of ['NumberOfCallsPerUser', 'ConcurrencyPerUser'] as const) {
    if (users[seed] !== undefined) {
      throw new InvalidInputError(`users.${seed}`, 'cannot be given with "load": say it in the load model instead');
    }
  }
  const model = section.model ?? (section.iterations !== undefined ? 'iterations' : undefined);
  if (typeof model !== 'string' || !(LOAD_MODELS as readonly string[]).includes(model)) {
    throw new InvalidInputError(
      'load.model',
      `must be one of ${LOAD_MODELS.join(', ')}, got ${describe(section.model)}`,
    );
  }
  const kind = model as LoadModel['model'];
  rejectUnknown(section, 'load.', ['model', 'rampUpSeconds', ...LOAD_FIELDS[kind]]);
  const rampUpSeconds =
    section.rampUpSeconds === undefined
      ? 0
      : readInteger(section.rampUpSeconds, 'load.rampUpSeconds', { min: 0, max: LIMITS.maxDurationSeconds });
  const duration = () =>
    readInteger(section.durationSeconds, 'load.durationSeconds', { min: 1, max: LIMITS.maxDurationSeconds });
  const maxQueueMs = () =>
    section.maxQueueMs === undefined
      ? DEFAULT_MAX_QUEUE_MS
      : readInteger(section.maxQueueMs, 'load.maxQueueMs', { min: 0, max: LIMITS.maxQueueMs });
  // Enough slots for a second of latency at the peak rate, unless told otherwise.
  const maxInFlight = (peakRate: number) =>
    section.maxInFlight === undefined
      ? Math.min(LIMITS.maxConcurrencyPerUser, Math.max(4, Math.ceil(peakRate)))
      : readInteger(section.maxInFlight, 'load.maxInFlight', { min: 1, max: LIMITS.maxConcurrencyPerUser });
  let load: LoadModel;
  switch (kind) {
    case 'iterations':
      load = {
        model: 'iterations',
        iterations: readInteger(section.iterations, 'load.iterations', { min: 1, max: LIMITS.maxCallsPerUser }),
        concurrency: concurrency(section.concurrency, 'load.concurrency'),
      };
      break;
    case 'duration':
      load = {
        model: 'duration',
        durationSeconds: duration(),
        concurrency: concurrency(section.concurrency, 'load.concurrency'),
      };
      break;
    case 'rate': {
      const ratePerSecond = readNumber(section.ratePerSecond, 'load.ratePerSecond', {
        min: 0,
        max: LIMITS.maxRatePerSecond,
      });
      if (ratePerSecond <= 0) throw new InvalidInputError('load.ratePerSecond', 'must be above 0');
      load = {
        model: 'rate',
        ratePerSecond,
        durationSeconds: duration(),
        maxInFlight: maxInFlight(ratePerSecond),
        maxQueueMs: maxQueueMs(),
      };
      break;
    }
    case 'stages': {
      const stages = parseStages(section.stages);
      load = {
        model: 'stages',
        stages,
        maxInFlight: maxInFlight(Math.max(...stages.map((s) => s.target))),
        maxQueueMs: maxQueueMs(),
      };
      break;
    }
  }
  return { load, rampUpSeconds };
}

function parseStages(value: Json): Stage[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > LIMITS.maxStages) {
    throw new InvalidInputError(
      'load.stages',
      `must be a list of 1 to ${LIMITS.maxStages} {"durationSeconds": S, "target": R} entries, got ${describe(value)}`,
    );
  }
  const stages = value.map((stage, i) => {
    const field = `load.stages[${i}]`;
    if (!isObject(stage)) throw new InvalidInputError(field, `must be an object, got ${describe(stage)}`);
    rejectUnknown(stage, `${field}.`, ['durationSeconds', 'target']);
    return {
      durationSeconds: readInteger(stage.durationSeconds, `${field}.durationSeconds`, {
        min: 1,
        max: LIMITS.maxDurationSeconds,
      }),
      target: readNumber(stage.target, `${field}.target`, { min: 0, max: LIMITS.maxRatePerSecond }),
    };
  });
  const total = stages.reduce((s, stage) => s + stage.durationSeconds, 0);
  if (total > LIMITS.maxDurationSeconds) {
    throw new InvalidInputError(
      'load.stages',
      `must last at most ${LIMITS.maxDurationSeconds} s in all, got ${total} s`,
    );
  }
  if (stages.every((s) => s.target === 0)) throw new InvalidInputError('load.stages', 'must reach a target above 0');
  return stages;
}

const REQUEST_FIELDS = ['method', 'path', 'headers', 'body', 'timeoutMs'];
const REQUEST_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The requests each iteration sends: one `request` (named `default`), or a list of named `requests`
 * picked by weight per iteration, or all run in order when `flow` is true. Giving both is refused.
 */
function parseScenario(raw: Record<string, Json>): Scenario {
  const flow = raw.flow === undefined || raw.flow === null ? false : raw.flow;
  if (typeof flow !== 'boolean') throw new InvalidInputError('flow', `must be true or false, got ${describe(flow)}`);
  if (raw.requests === undefined || raw.requests === null) {
    if (flow) throw new InvalidInputError('flow', 'needs "requests": the steps each iteration runs in order');
    const section = readSection(raw, 'request');
    rejectUnknown(section, 'request.', REQUEST_FIELDS);
    return { mode: 'mix', requests: [{ ...parseRequest(section, 'request'), name: DEFAULT_REQUEST_NAME, weight: 1 }] };
  }
  if (raw.request !== undefined && raw.request !== null) {
    throw new InvalidInputError('requests', 'cannot be given with "request": put that request in the list');
  }
  const list = raw.requests;
  if (!Array.isArray(list) || list.length === 0 || list.length > LIMITS.maxRequests) {
    throw new InvalidInputError(
      'requests',
      `must be a list of 1 to ${LIMITS.maxRequests} {"name": …, "path": …} entries, got ${describe(list)}`,
    );
  }
  const names = new Set<string>();
  const requests = list.map((entry, i): NamedRequest => {
    const field = `requests[${i}]`;
    if (!isObject(entry)) throw new InvalidInputError(field, `must be an object, got ${describe(entry)}`);
    rejectUnknown(entry, `${field}.`, ['name', ...REQUEST_FIELDS, 'weight']);
    if (typeof entry.name !== 'string' || !REQUEST_NAME.test(entry.name)) {
      throw new InvalidInputError(`${field}.name`, `must be 1 to 64 of A-Z a-z 0-9 _ . -, got ${describe(entry.name)}`);
    }
    if (names.has(entry.name)) throw new InvalidInputError(`${field}.name`, `"${entry.name}" is used twice`);
    names.add(entry.name);
    let weight = 1;
    if (entry.weight !== undefined) {
      if (flow)
        throw new InvalidInputError(`${field}.weight`, 'has no meaning in a flow: every step runs each iteration');
      weight = readNumber(entry.weight, `${field}.weight`, { min: 0, max: 1e6 });
      if (weight <= 0) throw new InvalidInputError(`${field}.weight`, 'must be above 0');
    }
    return { ...parseRequest(entry, field), name: entry.name, weight };
  });
  const size = Buffer.byteLength(JSON.stringify(requests));
  if (size > LIMITS.maxScenarioBytes) {
    throw new InvalidInputError('requests', `must total at most ${LIMITS.maxScenarioBytes} bytes, got ${size}`);
  }
  return { mode: flow ? 'flow' : 'mix', requests };
}

function parseData(raw: Record<string, Json>, scenario: Scenario): DataSource | null {
  const used = dataColumnsUsed(scenario);
  if (raw.data === undefined || raw.data === null) {
    const [first] = used;
    if (first) {
      throw new InvalidInputError(first[1], `reads {{data.${first[0]}}} but no "data": {"key": …} file is given`);
    }
    return null;
  }
  const section = readSection(raw, 'data');
  rejectUnknown(section, 'data.', ['key']);
  const key = section.key;
  if (typeof key !== 'string' || key === '' || key.length > 1024) {
    throw new InvalidInputError('data.key', `must be the S3 key of the data file, got ${describe(key)}`);
  }
  if (key.startsWith('runs/') || key.startsWith('/')) {
    throw new InvalidInputError('data.key', 'must not start with "runs/" or "/" (runs/ holds the results of runs)');
  }
  if (!/\.(csv|json)$/i.test(key)) throw new InvalidInputError('data.key', 'must end in .csv or .json');
  return { key };
}

/** Every `{{data.COLUMN}}` the scenario reads, with the first field that reads it. */
export function dataColumnsUsed(scenario: Scenario): Map<string, string> {
  const used = new Map<string, string>();
  scenario.requests.forEach((request, i) => {
    const field =
      scenario.requests.length === 1 && request.name === DEFAULT_REQUEST_NAME ? 'request' : `requests[${i}]`;
    const texts: [string, string][] = [
      [`${field}.path`, request.path],
      ...Object.entries(request.headers).map(([name, value]): [string, string] => [`${field}.headers.${name}`, value]),
    ];
    if (request.body !== null) texts.push([`${field}.body`, request.body]);
    for (const [where, text] of texts) {
      for (const column of columnsOf(parseTemplate(text, where))) if (!used.has(column)) used.set(column, where);
    }
  });
  return used;
}

/** One request: `field` is `request` or `requests[i]`, so that errors name the entry. */
function parseRequest(section: Record<string, Json>, field: string): RequestSpec {
  const method = section.method === undefined ? DEFAULTS.method : String(section.method).toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new InvalidInputError(
      `${field}.method`,
      `must be one of ${HTTP_METHODS.join(', ')}, got ${describe(section.method)}`,
    );
  }
  let path = DEFAULTS.path;
  if (section.path !== undefined) {
    if (typeof section.path !== 'string')
      throw new InvalidInputError(`${field}.path`, `must be a string, got ${describe(section.path)}`);
    path = section.path;
    // The literal text is judged as it will be sent; substituted values are percent-encoded.
    checkPath(sampleOf(parseTemplate(path, `${field}.path`), 'x'), `${field}.path`);
  }
  const headers: Record<string, string> = {};
  if (section.headers !== undefined) {
    if (!isObject(section.headers))
      throw new InvalidInputError(`${field}.headers`, `must be an object of strings, got ${describe(section.headers)}`);
    let size = 0;
    for (const [name, value] of Object.entries(section.headers)) {
      if (typeof value !== 'string')
        throw new InvalidInputError(`${field}.headers.${name}`, `must be a string, got ${describe(value)}`);
      checkHeader(name, sampleOf(parseTemplate(value, `${field}.headers.${name}`), 'x'), field);
      const lower = name.toLowerCase();
      size += name.length + value.length;
      headers[lower] = value;
    }
    if (size > LIMITS.maxHeaderBytes)
      throw new InvalidInputError(`${field}.headers`, `must total at most ${LIMITS.maxHeaderBytes} bytes`);
  }
  let body: string | null = null;
  if (section.body !== undefined && section.body !== null) {
    body = typeof section.body === 'string' ? section.body : JSON.stringify(section.body);
    if (Buffer.byteLength(body) > LIMITS.maxBodyBytes)
      throw new InvalidInputError(`${field}.body`, `must be at most ${LIMITS.maxBodyBytes} bytes`);
    if (method === 'GET' || method === 'HEAD')
      throw new InvalidInputError(`${field}.body`, `cannot be sent with ${method}`);
    parseTemplate(body, `${field}.body`);
    if (typeof section.body !== 'string' && headers['content-type'] === undefined)
      headers['content-type'] = 'application/json';
  }
  const timeoutMs =
    section.timeoutMs === undefined
      ? DEFAULTS.timeoutMs
      : readInteger(section.timeoutMs, `${field}.timeoutMs`, { min: 1, max: LIMITS.maxTimeoutMs });
  return { method: method as HttpMethod, path, headers, body, timeoutMs };
}

/** A path, never an origin: the deployed workers may only call the configured API. */
function checkPath(path: string, field = 'request.path'): string {
  if (!path.startsWith('/')) throw new InvalidInputError(field, `must start with "/", got ${describe(path)}`);
  if (!PATH.test(path)) {
    let hint = '';
    try {
      const encoded = encodeURI(path);
      if (PATH.test(encoded)) hint = ` (percent-encoded: ${encoded})`;
    } catch {
      // not encodable (a lone surrogate): no hint
    }
    throw new InvalidInputError(
      field,
      `must be printable ASCII with no spaces or control characters; percent-encode anything else${hint}`,
    );
  }
  if (path.startsWith('//') || path.includes('#') || path.split(/[/?]/).includes('..')) {
    throw new InvalidInputError(
      field,
      'must hold no "#", "//" prefix or ".." segment (it is appended to the target URL)',
    );
  }
  return path;
}

/** A header the worker may send as given: a token name, a value the HTTP client takes as is, not one it owns. */
function checkHeader(name: string, value: string, request = 'request'): void {
  const field = `${request}.headers.${name}`;
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) throw new InvalidInputError(field, 'is not a valid header name');
  // The HTTP client refuses other bytes (a refused request used to hang its user): say so up front.
  if (!HEADER_VALUE.test(value)) {
    throw new InvalidInputError(field, 'must be one line of printable ASCII (tabs and spaces allowed)');
  }
  const lower = name.toLowerCase();
  if (WORKER_HEADERS.includes(lower))
    throw new InvalidInputError(field, 'is set by the worker and cannot be overridden');
  if (HOP_BY_HOP_HEADERS.includes(lower)) {
    throw new InvalidInputError(field, 'is a hop-by-hop header the load generator manages itself; remove it');
  }
}

/**
 * Throws InvalidInputError unless the HTTP client can send this request as it is. parseRunInput applies it
 * to the input; the engine applies it again to what it is handed, so nothing unsendable reaches the client.
 */
export function assertSendable(request: Pick<RequestSpec, 'path' | 'headers'>): void {
  if (request.path !== '') checkPath(request.path);
  for (const [name, value] of Object.entries(request.headers)) checkHeader(name, value);
}

/** The minimum of a user's own requests before abortOnFail judges its error rate: a few early errors are noise. */
const DEFAULT_ABORT_MIN_REQUESTS = 100;

function parseThresholds(section: Record<string, Json>): Thresholds {
  const out: { -readonly [K in keyof Thresholds]: Thresholds[K] } = {};
  if (section.p95Ms !== undefined)
    out.p95Ms = readNumber(section.p95Ms, 'thresholds.p95Ms', { min: 0, max: 3_600_000 });
  if (section.p99Ms !== undefined)
    out.p99Ms = readNumber(section.p99Ms, 'thresholds.p99Ms', { min: 0, max: 3_600_000 });
  if (section.maxErrorRate !== undefined)
    out.maxErrorRate = readNumber(section.maxErrorRate, 'thresholds.maxErrorRate', { min: 0, max: 1 });
  if (section.minThroughputRps !== undefined)
    out.minThroughputRps = readNumber(section.minThroughputRps, 'thresholds.minThroughputRps', { min: 0, max: 1e9 });
  if (section.abortOnFail !== undefined && section.abortOnFail !== false) {
    if (section.maxErrorRate === undefined)
      throw new InvalidInputError(
        'thresholds.abortOnFail',
        'needs thresholds.maxErrorRate: the rate that stops the run',
      );
    const given = section.abortOnFail;
    if (given === true) out.abortOnFail = { minRequests: DEFAULT_ABORT_MIN_REQUESTS };
    else if (isObject(given)) {
      rejectUnknown(given, 'thresholds.abortOnFail.', ['minRequests']);
      out.abortOnFail = {
        minRequests:
          given.minRequests === undefined
            ? DEFAULT_ABORT_MIN_REQUESTS
            : readInteger(given.minRequests, 'thresholds.abortOnFail.minRequests', { min: 1, max: 1e9 }),
      };
    } else
      throw new InvalidInputError(
        'thresholds.abortOnFail',
        `must be true, false or {"minRequests": N}, got ${describe(given)}`,
      );
  }
  if (section.maxFailedWorkers !== undefined)
    out.maxFailedWorkers = readInteger(section.maxFailedWorkers, 'thresholds.maxFailedWorkers', {
      min: 0,
      max: LIMITS.maxUsers,
    });
  return out;
}

/** Validates `deleteTestUsers` input: `{}` or the seed's `{"NumberOfUsers":"100"}` (also under `users`). */
export function parseCleanupInput(raw: Json): CleanupInput {
  if (raw === undefined || raw === null) return { users: undefined };
  if (!isObject(raw)) throw new InvalidInputError('input', `must be a JSON object, got ${describe(raw)}`);
  // A misspelt field must not read as "no number given": that would delete every test user.
  rejectUnknown(raw, '', ['NumberOfUsers', 'users']);
  const nested = readSection(raw, 'users');
  rejectUnknown(nested, 'users.', ['NumberOfUsers']);
  if (raw.NumberOfUsers !== undefined && nested.NumberOfUsers !== undefined) {
    throw new InvalidInputError('NumberOfUsers', 'is given twice (also as users.NumberOfUsers); give it once');
  }
  const value = raw.NumberOfUsers ?? nested.NumberOfUsers;
  const field = raw.NumberOfUsers !== undefined ? 'NumberOfUsers' : 'users.NumberOfUsers';
  if (value === undefined) return { users: undefined };
  return { users: readInteger(value, field, { min: 1, max: LIMITS.maxUsers }) };
}
