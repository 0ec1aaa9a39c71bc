import { assertSendable, type RequestSpec } from '../input';
import {
  compileTemplate,
  expand,
  isConstant,
  parseTemplate,
  type Random,
  seededRandom,
  type UserContext,
} from './template';

/** One named request of a scenario; its path, header values and body may hold templates. */
export interface NamedRequest extends RequestSpec {
  readonly name: string;
  /** Share of the iterations that pick it in a mix (relative to the others); 1 in a flow. */
  readonly weight: number;
}

/**
 * What each user's iteration does: `mix` picks one request by weight, `flow` runs every request in
 * order (e.g. list items, then fetch one). A single `request` is a mix of one, named `default`.
 */
export interface Scenario {
  readonly mode: 'mix' | 'flow';
  readonly requests: readonly NamedRequest[];
}

export const DEFAULT_REQUEST_NAME = 'default';

/** A request as the engine sends it. */
export interface Prepared {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
}

export interface CompiledRequest {
  readonly name: string;
  readonly method: RequestSpec['method'];
  readonly timeoutMs: number;
  /** False when the user's values make it unsendable: every send counts as `invalid_request`. */
  readonly sendable: boolean;
  /** The request for one iteration; a request with no dynamic part returns the same object every time. */
  readonly prepare: (iteration: number) => Prepared;
}

export interface CompiledScenario {
  readonly mode: Scenario['mode'];
  readonly requests: readonly CompiledRequest[];
  /** Mix: the index of the request one iteration sends, drawn by weight. */
  readonly pick: () => number;
  /** The longest timeout of any request: what the worker keeps free before Lambda's end. */
  readonly maxTimeoutMs: number;
}

export const maxTimeoutOf = (scenario: Pick<Scenario, 'requests'>): number =>
  Math.max(...scenario.requests.map((r) => r.timeoutMs));

/** A scenario of one request (the engine's tests and the seed's single `request`). */
export const singleRequest = (request: RequestSpec): Scenario => ({
  mode: 'mix',
  requests: [{ ...request, name: DEFAULT_REQUEST_NAME, weight: 1 }],
});

/**
 * Compiles every template for one user, once: the user's name, index and data row become literal text.
 * The PRNG is seeded by the user's index, so each user's mix (and randomInt) is its own but repeatable.
 */
export function compileScenario(
  scenario: Scenario,
  user: UserContext,
  random: Random = seededRandom(user.userIndex + 1),
): CompiledScenario {
  const requests = scenario.requests.map((request, i) => compileRequest(request, i, user, random));
  const total = scenario.requests.reduce((s, r) => s + r.weight, 0);
  let sum = 0;
  const cumulative = scenario.requests.map((r) => {
    sum += r.weight / total;
    return sum;
  });
  const last = cumulative.length - 1;
  return {
    mode: scenario.mode,
    requests,
    pick: () => {
      if (last === 0) return 0;
      const x = random();
      for (let i = 0; i < last; i++) if (x < (cumulative[i] ?? 1)) return i;
      return last;
    },
    maxTimeoutMs: maxTimeoutOf(scenario),
  };
}

function compileRequest(request: NamedRequest, index: number, user: UserContext, random: Random): CompiledRequest {
  const field = `requests[${index}]`;
  const raw = (text: string) => text;
  const path = compileTemplate(parseTemplate(request.path, `${field}.path`), user, encodeURIComponent);
  const headers = Object.entries(request.headers).map(
    ([name, value]) => [name, compileTemplate(parseTemplate(value, `${field}.headers.${name}`), user, raw)] as const,
  );
  const body = request.body === null ? null : compileTemplate(parseTemplate(request.body, `${field}.body`), user, raw);
  const build = (iteration: number): Prepared => {
    const out: Record<string, string> = {};
    for (const [name, value] of headers) out[name] = expand(value, iteration, random);
    return {
      path: expand(path, iteration, random),
      headers: out,
      body: body === null ? null : expand(body, iteration, random),
    };
  };
  // The dynamic parts are ASCII digits, hex and dashes, so one sample tells whether every iteration is sendable.
  let sendable = true;
  try {
    assertSendable(build(0));
  } catch {
    sendable = false;
  }
  const constant =
    isConstant(path) && headers.every(([, value]) => isConstant(value)) && (body === null || isConstant(body))
      ? build(0)
      : undefined;
  return {
    name: request.name,
    method: request.method,
    timeoutMs: request.timeoutMs,
    sendable,
    prepare: constant ? () => constant : build,
  };
}

/** One request with no per-user templates, compiled as the only request of a mix (benches and tests). */
export const compileSingle = (request: RequestSpec, user: UserContext = { username: 'user0', userIndex: 0 }) =>
  compileScenario(singleRequest(request), user);
