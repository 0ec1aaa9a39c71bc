/**
 * Reads HTTP/1.1 responses from a connection's bytes, one response at a time, keeping nothing of the
 * body: a load generator needs the status, where the response ends (to time it and reuse the
 * connection), and whether the server keeps the connection open. Everything else is skipped unparsed.
 *
 * Framing follows RFC 9112 §6.3: no body after HEAD, 1xx, 204 and 304; then chunked, then
 * Content-Length, else the body runs until the server closes the connection.
 */

export const MORE = 0;
export const COMPLETE = 1;
export const INVALID = 2;
export type ReadResult = typeof MORE | typeof COMPLETE | typeof INVALID;

/** Where the reader is in a response (plain numbers: the switch on them is the hot path). */
const State = {
  Head: 0,
  Length: 1,
  ChunkSize: 2,
  ChunkData: 3,
  ChunkEnd: 4,
  Trailers: 5,
  UntilClose: 6,
  Done: 7,
} as const;
type State = (typeof State)[keyof typeof State];

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LF = 0x0a;
const COLON = 0x3a;
/** Longer heads or chunk-size lines than this are not a server we can measure: the response is invalid. */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;

export class ResponseReader {
  /** The final (non-1xx) status of the response read last. */
  status = 0;
  /** False when the connection cannot carry another request after this response. */
  keepAlive = true;
  private state: State = State.Done;
  private headRequest = false;
  private remaining = 0;
  /** The start of a head split across reads. */
  private partial: Buffer | undefined;
  /** The start of a chunk-size or trailer line split across reads. */
  private line = '';

  /** Readies the reader for the response to the request just sent (`head`: a HEAD request, no body follows). */
  start(head: boolean): void {
    this.state = State.Head;
    this.headRequest = head;
    this.status = 0;
    this.keepAlive = true;
    this.remaining = 0;
    this.partial = undefined;
    this.line = '';
  }

  /** Feeds the next bytes read; COMPLETE when the response ended (bytes after it mean no keep-alive). */
  read(chunk: Buffer): ReadResult {
    let buf = chunk;
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case State.Head: {
          if (this.partial) {
            buf = Buffer.concat([this.partial, buf.subarray(i)]);
            i = 0;
            this.partial = undefined;
          }
          const end = buf.indexOf(CRLFCRLF, i);
          if (end < 0) {
            if (buf.length - i > MAX_HEAD_BYTES) return INVALID;
            this.partial = Buffer.from(buf.subarray(i));
            return MORE;
          }
          if (!this.parseHead(buf, i, end)) return INVALID;
          i = end + 4;
          break;
        }
        case State.Length: {
          const take = Math.min(this.remaining, buf.length - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = State.Done;
          break;
        }
        case State.ChunkSize:
        case State.Trailers: {
          const lf = buf.indexOf(LF, i);
          const text = buf.toString('latin1', i, lf < 0 ? buf.length : lf);
          if (this.line.length + text.length > MAX_LINE_BYTES) return INVALID;
          if (lf < 0) {
            this.line += text;
            return MORE;
          }
          i = lf + 1;
          const line = trimCr(this.line + text);
          this.line = '';
          if (this.state === State.Trailers) {
            if (line === '') this.state = State.Done;
            break;
          }
          const semicolon = line.indexOf(';');
          const hex = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return INVALID;
          this.remaining = Number.parseInt(hex, 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, buf.length - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) {
            this.state = State.ChunkEnd;
            this.remaining = 2;
          }
          break;
        }
        case State.ChunkEnd: {
          // The CRLF after a chunk's data: anything else means the chunk sizes are not what was sent.
          if (buf[i] !== (this.remaining === 2 ? 0x0d : 0x0a)) return INVALID;
          i++;
          if (--this.remaining === 0) this.state = State.ChunkSize;
          break;
        }
        case State.UntilClose:
          return MORE;
        case State.Done:
          // More bytes than one response: the framing is not what we think, so the connection is not reused.
          this.keepAlive = false;
          return COMPLETE;
      }
    }
    return this.state === State.Done ? COMPLETE : MORE;
  }

  /** The server closed the connection: the end of a body read until close, or a response cut short. */
  closed(): ReadResult {
    if (this.state === State.UntilClose || this.state === State.Done) {
      this.state = State.Done;
      this.keepAlive = false;
      return COMPLETE;
    }
    return INVALID;
  }

  /**
   * Parses a head (status line and fields, `buf[start, end)` without the blank line) and picks how the
   * body is framed. Bytes are scanned in place: only the three fields that matter are decoded.
   */
  private parseHead(buf: Buffer, start: number, end: number): boolean {
    // "HTTP/1.1 200 OK": the version, then a 3-digit status.
    if (
      end - start < 12 ||
      buf.toString('latin1', start, start + 7) !== 'HTTP/1.' ||
      (buf[start + 7] !== 0x30 && buf[start + 7] !== 0x31) ||
      buf[start + 8] !== 0x20 ||
      (end - start > 12 && buf[start + 12] !== 0x20 && buf[start + 12] !== 0x0d)
    )
      return false;
    const status = digit(buf[start + 9]) * 100 + digit(buf[start + 10]) * 10 + digit(buf[start + 11]);
    if (!(status >= 100 && status <= 999)) return false;
    const http10 = buf[start + 7] === 0x30;
    let length = -1;
    let chunked = false;
    let otherEncoding = false;
    let close = http10;
    for (let at = buf.indexOf(LF, start); at >= 0 && at < end; ) {
      const line = at + 1;
      const next = buf.indexOf(LF, line);
      const lineEnd = next < 0 || next > end ? end : next;
      at = next;
      // Only three fields matter, told apart by the length of their name: other lines are skipped unread.
      if (buf[line + 14] === COLON && sameName(buf, line, CONTENT_LENGTH)) {
        const n = decimal(buf, line + 15, lineEnd);
        if (n < 0 || (length >= 0 && n !== length)) return false;
        length = n;
      } else if (buf[line + 17] === COLON && sameName(buf, line, TRANSFER_ENCODING)) {
        if (fieldValue(buf, line + 18, lineEnd).endsWith('chunked')) chunked = true;
        else otherEncoding = true;
      } else if (buf[line + 10] === COLON && sameName(buf, line, CONNECTION)) {
        const value = fieldValue(buf, line + 11, lineEnd);
        if (value.includes('close')) close = true;
        else if (value.includes('keep-alive')) close = false;
      }
    }
    if (status < 200) {
      // 101 hands the connection to another protocol: it is answered, and not reusable.
      if (status === 101) {
        this.finish(status, false);
        return true;
      }
      // 100 Continue, 103 Early Hints: an interim answer; the final one follows on the same connection.
      return true;
    }
    this.status = status;
    this.keepAlive = !close;
    if (this.headRequest || status === 204 || status === 304) this.state = State.Done;
    else if (chunked && !otherEncoding) {
      this.state = State.ChunkSize;
      // Both framings at once (RFC 9112 §6.3): read as chunked, but never trust the connection again.
      if (length >= 0) this.keepAlive = false;
    } else if (otherEncoding) {
      this.state = State.UntilClose;
      this.keepAlive = false;
    } else if (length >= 0) {
      this.remaining = length;
      this.state = length === 0 ? State.Done : State.Length;
    } else {
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
    return true;
  }

  private finish(status: number, keepAlive: boolean): void {
    this.status = status;
    this.keepAlive = keepAlive;
    this.state = State.Done;
  }
}

const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const CONNECTION = Buffer.from('connection');

/** True when the field name at `at` is `lower` in any letter case (the names are letters and dashes). */
function sameName(buf: Buffer, at: number, lower: Buffer): boolean {
  for (let k = 0; k < lower.length; k++) if (((buf[at + k] ?? 0) | 0x20) !== lower[k]) return false;
  return true;
}

/** A field value without its surrounding whitespace, in lower case. */
const fieldValue = (buf: Buffer, from: number, to: number): string =>
  buf.toString('latin1', from, to).trim().toLowerCase();

/** The decimal number in `buf[from, to)` between optional whitespace; -1 when it is not one (or over 15 digits). */
function decimal(buf: Buffer, from: number, to: number): number {
  let at = from;
  while (at < to && (buf[at] === 0x20 || buf[at] === 0x09)) at++;
  let n = 0;
  const first = at;
  for (; at < to; at++) {
    const d = (buf[at] ?? 0) - 0x30;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  if (at === first || at - first > 15) return -1;
  while (at < to && (buf[at] === 0x20 || buf[at] === 0x09 || buf[at] === 0x0d)) at++;
  return at === to ? n : -1;
}

/** 0–9 for an ASCII digit, NaN otherwise (so a bad status fails its range check). */
const digit = (byte: number | undefined): number =>
  byte !== undefined && byte >= 0x30 && byte <= 0x39 ? byte - 0x30 : Number.NaN;

const trimCr = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);
