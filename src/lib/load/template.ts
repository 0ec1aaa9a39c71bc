import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../errors';

/**
 * `{{…}}` templates in request paths, header values and bodies. A template is parsed once (at input
 * validation, and again once per user when it is compiled), never per request: per-user values fold into
 * literal text, and only `iteration`, `uuid` and `randomInt` are filled in when a request is built.
 */
export type Part =
  | string
  | { readonly kind: 'username' }
  | { readonly kind: 'userIndex' }
  | { readonly kind: 'iteration' }
  | { readonly kind: 'uuid' }
  | { readonly kind: 'randomInt'; readonly min: number; readonly max: number }
  | { readonly kind: 'data'; readonly column: string };

export type Template = readonly Part[];

/** What a template may name; `data.COLUMN` besides. */
export const TEMPLATE_NAMES = ['username', 'userIndex', 'iteration', 'uuid', 'randomInt A B', 'data.COLUMN'] as const;

const DATA_COLUMN = /^data\.([^\s{}]+)$/;

/** Splits `text` into literal text and template parts; throws InvalidInputError naming `field`. */
export function parseTemplate(text: string, field: string): Template {
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    const open = text.indexOf('{{', at);
    if (open < 0) break;
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new InvalidInputError(field, `has a "{{" at character ${open} with no closing "}}"`);
    if (open > at) parts.push(text.slice(at, open));
    parts.push(parsePart(text.slice(open + 2, close).trim(), field));
    at = close + 2;
  }
  if (at < text.length) parts.push(text.slice(at));
  return parts;
}

function parsePart(expression: string, field: string): Part {
  const words = expression.split(/\s+/);
  const [name] = words;
  if (words.length === 1 && (name === 'username' || name === 'userIndex' || name === 'iteration' || name === 'uuid'))
    return { kind: name };
  if (name === 'randomInt') {
    const [min, max] = words.slice(1).map((w) => (/^-?\d{1,15}$/.test(w) ? Number(w) : Number.NaN));
    if (words.length !== 3 || min === undefined || max === undefined || Number.isNaN(min) || Number.isNaN(max)) {
      throw new InvalidInputError(
        field,
        `{{${expression}}}: randomInt takes two whole numbers, e.g. {{randomInt 1 100}}`,
      );
    }
    if (min > max) throw new InvalidInputError(field, `{{${expression}}}: the lower bound is above the upper one`);
    return { kind: 'randomInt', min, max };
  }
  const column = words.length === 1 ? DATA_COLUMN.exec(expression)?.[1] : undefined;
  if (column !== undefined) return { kind: 'data', column };
  throw new InvalidInputError(
    field,
    `{{${expression}}} is not a known template (known: ${TEMPLATE_NAMES.map((n) => `{{${n}}}`).join(', ')})`,
  );
}

/** The data columns a template reads. */
export const columnsOf = (template: Template): string[] =>
  template.flatMap((part) => (typeof part !== 'string' && part.kind === 'data' ? [part.column] : []));

/**
 * The template with every part replaced by `sample`: what input validation checks against the rules for
 * sendable paths and headers, so that the literal text is judged as it will be sent.
 */
export const sampleOf = (template: Template, sample: string): string =>
  template.map((part) => (typeof part === 'string' ? part : sample)).join('');

/** What a user fills templates with. */
export interface UserContext {
  readonly username: string;
  readonly userIndex: number;
  /** The user's data row (row userIndex mod rows), when the run has a data file. */
  readonly data?: Readonly<Record<string, string>>;
}

/** A part known only when the request is built. */
type Dynamic = Extract<Part, { kind: 'iteration' | 'uuid' | 'randomInt' }>;

/** A template compiled for one user: a constant string, or literal text around the dynamic parts. */
export type Compiled = string | { readonly parts: readonly (string | Dynamic)[] };

/** Uniform in [0, 1); a per-user PRNG so that randomInt and the weighted mix cost no allocation. */
export type Random = () => number;

/**
 * Folds the user's values into the text. `encode` is applied to substituted values only (paths
 * percent-encode them so that a username or a data value cannot add a segment or a query).
 */
export function compileTemplate(template: Template, user: UserContext, encode: (value: string) => string): Compiled {
  const parts: (string | Dynamic)[] = [];
  const literal = (text: string) => {
    const last = parts[parts.length - 1];
    if (typeof last === 'string') parts[parts.length - 1] = last + text;
    else parts.push(text);
  };
  for (const part of template) {
    if (typeof part === 'string') literal(part);
    else if (part.kind === 'username') literal(encode(user.username));
    else if (part.kind === 'userIndex') literal(String(user.userIndex));
    else if (part.kind === 'data') {
      const value = user.data?.[part.column];
      // Input validation already checked every column is in the file; an absent row means no file.
      if (value === undefined) throw new InvalidInputError(`data.${part.column}`, `no value for ${user.username}`);
      literal(encode(value));
    } else parts.push(part);
  }
  if (parts.length === 0) return '';
  if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
  return { parts };
}

/** The text for one iteration: a constant is returned as it is (the same string every time). */
export function expand(compiled: Compiled, iteration: number, random: Random): string {
  if (typeof compiled === 'string') return compiled;
  let out = '';
  for (const part of compiled.parts) {
    if (typeof part === 'string') out += part;
    else if (part.kind === 'iteration') out += iteration;
    else if (part.kind === 'uuid') out += randomUUID();
    else out += part.min + Math.floor(random() * (part.max - part.min + 1));
  }
  return out;
}

export const isConstant = (compiled: Compiled): compiled is string => typeof compiled === 'string';

/** mulberry32: a 32-bit seeded PRNG, enough for picking requests and random ids (not for secrets). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
