import { errorName } from './errors';

/** Error names AWS uses for throttling and transient faults across the services we call. */
const RETRYABLE = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'LimitExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'InternalErrorException',
  'InternalServiceError',
  'InternalFailure',
  'KMSInternalException',
  'ECONNRESET',
  'ETIMEDOUT',
]);

export const isRetryable = (error: unknown): boolean => RETRYABLE.has(errorName(error));

export interface RetryOptions {
  readonly attempts?: number;
  readonly baseMs?: number;
  readonly maxMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Retries throttling and transient errors with exponential backoff and full jitter. Anything else, and
 * the last throttle, is rethrown: a quota problem surfaces instead of being swallowed.
 */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 8, baseMs = 100, maxMs = 5_000, sleep: wait = sleep, random = Math.random } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await wait(Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1))));
    }
  }
}

/**
 * Spaces operations to at most `perSecond` starts per second (a token bucket of size 1), so that
 * parallel provisioning tasks together stay under Cognito's request-rate quota.
 */
export function rateLimiter(perSecond: number, now: () => number = Date.now, wait = sleep): () => Promise<void> {
  const interval = 1000 / perSecond;
  let next = 0;
  return async () => {
    const current = now();
    const slot = Math.max(current, next);
    next = slot + interval;
    if (slot > current) await wait(slot - current);
  };
}
