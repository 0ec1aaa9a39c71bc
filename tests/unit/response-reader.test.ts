import { COMPLETE, INVALID, MORE, ResponseReader } from '../../src/lib/load/http/response-reader';

/** Feeds `bytes` split at every cut point in turn and returns the result after the last piece of each. */
function everySplit(bytes: string, head = false): { result: number; status: number; keepAlive: boolean }[] {
  const all = Buffer.from(bytes, 'latin1');
  const outcomes = [];
  for (let cut = 1; cut < all.length; cut++) {
    const reader = new ResponseReader();
    reader.start(head);
    const first = reader.read(all.subarray(0, cut));
    const result = first === MORE ? reader.read(all.subarray(cut)) : first;
    outcomes.push({ result, status: reader.status, keepAlive: reader.keepAlive });
  }
  return outcomes;
}

const once = (bytes: string, head = false) => {
  const reader = new ResponseReader();
  reader.start(head);
  const result = reader.read(Buffer.from(bytes, 'latin1'));
  return { result, status: reader.status, keepAlive: reader.keepAlive, reader };
};

describe('ResponseReader', () => {
  const cases: [string, string, { status: number; keepAlive: boolean }][] = [
    [
      'Content-Length',
      'HTTP/1.1 200 OK\r\nDate: x\r\nContent-Length: 5\r\n\r\nhello',
      { status: 200, keepAlive: true },
    ],
    [
      'chunked, extensions, trailers',
      'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n',
      { status: 201, keepAlive: true },
    ],
    [
      'field names in any case',
      'HTTP/1.1 404 Not Found\r\nCONTENT-LENGTH: 2\r\n\r\nno',
      { status: 404, keepAlive: true },
    ],
    [
      'Connection: close',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      { status: 200, keepAlive: false },
    ],
    [
      'HTTP/1.0 keep-alive',
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx',
      { status: 200, keepAlive: true },
    ],
    ['HTTP/1.0 without keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', { status: 200, keepAlive: false }],
    [
      '1xx first',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx',
      { status: 200, keepAlive: true },
    ],
    ['204 with no body', 'HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n', { status: 204, keepAlive: true }],
  ];

  it.each(cases)('reads %s split at every byte', (_name, bytes, expected) => {
    for (const outcome of everySplit(bytes)) expect(outcome).toEqual({ result: COMPLETE, ...expected });
  });

  it('reads no body after HEAD, whatever the length says', () => {
    expect(once('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', true)).toMatchObject({
      result: COMPLETE,
      status: 200,
    });
  });

  it('waits for the rest of a body, and ends a body without framing only when the server closes', () => {
    expect(once('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort').result).toBe(MORE);
    const untilClose = once('HTTP/1.1 200 OK\r\n\r\nsome body');
    expect(untilClose.result).toBe(MORE);
    expect(untilClose.reader.closed()).toBe(COMPLETE);
    expect(untilClose.reader.keepAlive).toBe(false);
    // A close before the declared length is a response cut short.
    expect(once('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort').reader.closed()).toBe(INVALID);
  });

  it('does not reuse a connection that sent more than one response', () => {
    expect(once('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK')).toMatchObject({
      result: COMPLETE,
      keepAlive: false,
    });
  });

  it('reads a response with both framings as chunked, and does not reuse its connection', () => {
    expect(
      once('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n'),
    ).toMatchObject({ result: COMPLETE, status: 200, keepAlive: false });
  });

  it('reads a status line with no reason phrase', () => {
    expect(once('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ result: COMPLETE, status: 200 });
  });

  it.each([
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n'],
    ['a bad status', 'HTTP/1.1 2x0 OK\r\n\r\n'],
    ['two different lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx'],
    ['a bad length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['a four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n'],
    ['an unknown version', 'HTTP/1.x 200 OK\r\n\r\n'],
    ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  ])('refuses %s', (_name, bytes) => {
    expect(once(bytes).result).toBe(INVALID);
  });
});
