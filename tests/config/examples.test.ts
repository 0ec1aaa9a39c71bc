import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../sls/definitions';
import { parseRunInput } from '../../src/lib/input';
import { buildPlan } from '../../src/lib/plan';

const examples = readdirSync(join(ROOT, 'examples')).filter((name) => name.endsWith('.json'));

describe('examples/', () => {
  it('holds the ready input files the README points to', () => {
    expect(examples).toEqual(expect.arrayContaining(['seed.json', 'rate.json', 'rate-ramp.json']));
  });

  it.each(examples)('%s is a valid execution input with a plan that fits', (name) => {
    const input = parseRunInput(JSON.parse(readFileSync(join(ROOT, 'examples', name), 'utf8')));
    expect(() => buildPlan(input, 'example', 'key', 800)).not.toThrow();
  });
});
