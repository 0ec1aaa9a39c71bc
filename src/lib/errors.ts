/**
 * Typed errors. Names are string literals (minifiers rename classes) and are the same strings the
 * state machines match in `ErrorEquals`, so a Lambda failure can be routed by its name.
 */
export type ErrorName =
  | 'InvalidInput'
  | 'ConfigError'
  | 'ProvisioningFailed'
  | 'CredentialsNotFound'
  | 'LoginFailed'
  | 'SummaryNotSaved'
  | 'CleanupFailed'
  // A test user's name is taken in the pool by a user the stack did not make.
  | 'UserNotOurs'
  // Verdicts: the run happened and was measured, and it failed.
  | 'NoResponses'
  | 'Stopped'
  | 'WorkersFailed'
  | 'ThresholdsFailed';

export class AppError extends Error {
  override readonly name: ErrorName;

  constructor(name: ErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
  }
}

/** Bad execution input: `field` is the dotted path of the offending field. */
export class InvalidInputError extends AppError {
  readonly field: string;
  /** The message without the field: callers that name the field their own way (CLI flags) use this. */
  readonly reason: string;

  constructor(field: string, reason: string) {
    super('InvalidInput', `${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

export class ConfigError extends AppError {
  constructor(message: string) {
    super('ConfigError', message);
  }
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/** The name of an AWS SDK (or any) error, for matching codes such as `UsernameExistsException`. */
export const errorName = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'string' ? error : 'UnknownError';
