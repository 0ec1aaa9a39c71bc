import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCli } from '../../src/local/cli';
import { reportOf } from '../helpers';

describe('npm run local --baseline, --max-regression', () => {
  const reportJson = JSON.stringify(reportOf('old', [1_000, 2_000, 5_000, 10_000]));
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'apiloadtest-baseline-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the baseline while the flags are parsed, with 10 % by default', () => {
    const options = parseCli(['--baseline', file('old.json', reportJson)]);
    expect(options.baseline?.report.runId).toBe('old');
    expect(options.baseline?.maxRegression).toBe(0.1);
    expect(parseCli(['--baseline', file('old.json', reportJson), '--max-regression', '25%']).baseline).toMatchObject({
      maxRegression: 0.25,
    });
    expect(parseCli(['--baseline', file('old.json', reportJson), '--max-regression', '0.05']).baseline).toMatchObject({
      maxRegression: 0.05,
    });
    expect(parseCli([]).baseline).toBeUndefined();
  });

  it('takes the report out of an execution output too', () => {
    const options = parseCli(['--baseline', file('output.json', `{"report":${reportJson}}`)]);
    expect(options.baseline?.report.runId).toBe('old');
  });

  it.each([
    [
      ['--baseline', '/no/such/dir/old.json'],
      /^--baseline: "\/no\/such\/dir\/old.json": not a readable JSON file \(ENOENT/,
    ],
    [['--baseline', 'NOT_JSON'], /^--baseline: ".*bad.json": not a readable JSON file/],
    [['--baseline', 'NOT_REPORT'], /^--baseline: ".*other.json": not an apiloadtest report/],
    [['--max-regression', '10%'], /^--max-regression: needs --baseline FILE/],
    [['--baseline', 'OK', '--max-regression', 'ten'], /^--max-regression: must be a percentage like 10%/],
    [['--baseline', 'OK', '--max-regression', '-5%'], /^--max-regression: must be a percentage like 10%/],
    [['--baseline', 'OK', '--baseline', 'OK'], /^--baseline: is given more than once/],
  ])('refuses %j naming the flag', (args, message) => {
    const paths: Record<string, () => string> = {
      NOT_JSON: () => file('bad.json', '{"runId":'),
      NOT_REPORT: () => file('other.json', '{"hello":1}'),
      OK: () => file('old.json', reportJson),
    };
    expect(() => parseCli(args.map((arg) => paths[arg]?.() ?? arg))).toThrow(message);
  });
});
