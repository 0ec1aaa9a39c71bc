/** Exit statuses every CLI here shares (README's table): a regression is a failed verdict, not an error. */
export const EXIT = { ok: 0, verdictFailed: 1, error: 2 } as const;

/** Bad flags or input files: exit 2 with the message alone, before anything starts. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
