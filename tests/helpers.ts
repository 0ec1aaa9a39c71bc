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
