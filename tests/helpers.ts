import { readdirSync, readFileSync } from 'node:fs';
/** An error shaped like the SDK's service exceptions: what the code matches on is the name. */
export const awsError = (name: string): Error => Object.assign(new Error(name), { name });

/** A JUnit file as a JUnit reader sees it: validated, parsed, entities decoded; returns its one suite. */
export function parseJunit(xml: string): any {
  const XmlParser = require('fast-xml-parser') as typeof import('fast-xml-parser');
  const valid = XmlParser.validate(xml);
  if (valid !== true) throw new Error(`invalid XML: ${JSON.stringify(valid)}`);
  const decode = (value: string) =>
    value.replace(
      /&(lt|gt|amp|quot|apos);/g,
      (_, e) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e as 'lt'],
    );
  return XmlParser.parse(xml, {
    ignoreAttributes: false,
    attributeNamePrefix: '',
    attrValueProcessor: decode,
    tagValueProcessor: decode,
  }).testsuites.testsuite;
}

/** A live (not zombie) process: a child that has exited but is not reaped yet counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** pid and every descendant, from the ppid field of /proc/<pid>/stat. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(name), ppid);
    } catch {
      // Gone while listing.
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree;
}
