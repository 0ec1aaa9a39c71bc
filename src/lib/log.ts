/**
 * One JSON line per event, written at the edge (handlers, CLI). Messages are constants and values go
 * in fields; callers never pass events, passwords or tokens.
 */
export type Fields = Record<string, string | number | boolean | null | undefined>;

export function log(level: 'info' | 'warn' | 'error', message: string, fields: Fields = {}): void {
  const line = JSON.stringify({ level, message, ...fields, time: new Date().toISOString() });
  if (level === 'error') console.error(line);
  else console.log(line);
}
