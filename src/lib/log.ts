/**
 * One JSON line per event, written at the edge (handlers, CLI). Messages are constants and values go
 * in fields; callers never pass events, passwords or tokens.
 */
export type Fields = Record<string, string | number | boolean | null | undefined>;
export type LogLevel = 'info' | 'warn' | 'error';
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => (level === 'error' ? console.error(line) : console.log(line));
let sink: LogSink = consoleSink;

/** Where log lines go: stdout/stderr (Lambda's CloudWatch) by default; local mode keeps the terminal for progress. */
export function setLogSink(next: LogSink | undefined): void {
  sink = next ?? consoleSink;
}

/** A line that is already JSON (an Embedded Metric Format record), written as it is. */
export function logRaw(line: string): void {
  sink('info', line);
}

export function log(level: LogLevel, message: string, fields: Fields = {}): void {
  sink(level, JSON.stringify({ level, message, ...fields, time: new Date().toISOString() }));
}
