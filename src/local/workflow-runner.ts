import { join } from 'node:path';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { ROOT, readYaml, STATE_MACHINE_FILES, type StateMachineKey } from '../../sls/definitions';
import { type FunctionKey, functionByLogicalId, functions } from '../../sls/functions';
import type { Runtime } from '../lib/deps';

// aws-local-stepfunctions 3.x calls Promise.withResolvers, which Node 20 lacks.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: <T>() => {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

type Json = unknown;
/** The library's execution event (its type is not exported by name). */
export type ExecutionEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
export type Handler = (event: Json, context: LambdaContext) => Promise<Json>;

/** What of Lambda's context object the handlers may use; time counts down from the function's timeout. */
export interface LambdaContext {
  readonly functionName: string;
  getRemainingTimeInMillis(): number;
}
type HandlerModule = { makeHandler: (runtime: () => Runtime) => Handler };

interface TaskBinding {
  readonly state: string;
  readonly functionKey: FunctionKey;
}

interface AslState {
  Type: string;
  TimeoutSeconds?: number;
  Parameters?: { FunctionName?: { 'Fn::GetAtt'?: [string, string] } };
  ItemProcessor?: { States: Record<string, AslState> };
  Iterator?: { States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
}

/** Every Task state in a definition (nested Maps and Parallels included) and the function it invokes. */
export function taskBindings(definition: { States: Record<string, AslState> }): TaskBinding[] {
  const out: TaskBinding[] = [];
  const visit = (states: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') {
        const logicalId = state.Parameters?.FunctionName?.['Fn::GetAtt']?.[0];
        const functionKey = logicalId ? functionByLogicalId[logicalId] : undefined;
        if (!functionKey) throw new Error(`Task state ${name} does not invoke a function of serverless.ts`);
        if (out.some((b) => b.state === name)) throw new Error(`Task state name ${name} is used twice`);
        out.push({ state: name, functionKey });
      }
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
      if (state.Iterator) visit(state.Iterator.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return out;
}

/** `src/handlers/plan-run.handler` -> the module that file is, loaded from this checkout. */
function loadHandlerModule(functionKey: FunctionKey): HandlerModule {
  const spec = functions[functionKey].handler;
  const modulePath = join(ROOT, spec.slice(0, spec.lastIndexOf('.')));
  return require(modulePath) as HandlerModule;
}

/**
 * A Lambda failure as the `lambda:invoke` integration reports it: Error is the function's error type,
 * Cause the JSON Lambda returns. Only the type and message travel, never a stack.
 */
class LambdaFunctionError extends Error {
  constructor(error: unknown) {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    super(JSON.stringify({ errorType: name, errorMessage: message }));
    this.name = name;
  }
}

export interface InvocationEvent {
  readonly state: string;
  readonly functionKey: FunctionKey;
  readonly phase: 'start' | 'end' | 'error';
  readonly input: Json;
  readonly output?: Json;
}

export interface ExecutionFailure {
  readonly error: string;
  readonly cause: string;
}

/**
 * Lambda's own timeout through `lambda:invoke`: the function is cut off and Step Functions reports
 * Lambda.Unknown, since the runtime returns no error type (Step Functions guide, "Handle Lambda service
 * exceptions": unhandled errors, function timeouts included, are reported as Lambda.Unknown).
 */
class LambdaTimeoutError extends Error {
  constructor(seconds: number) {
    const payload = JSON.stringify({ errorMessage: `Task timed out after ${seconds.toFixed(2)} seconds` });
    super(
      `The cause could not be determined because Lambda did not return an error type. Returned payload: ${payload}`,
    );
    this.name = 'Lambda.Unknown';
  }
}

/** Resolves with the work, or rejects with onTimeout() once ms have passed; the work itself runs on. */
function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

export interface RunnerTimeouts {
  /**
   * Multiplies every Task's TimeoutSeconds and every function's timeout, so a test can see a hang become
   * a timed-out Task in milliseconds without editing the ASL. Default 1.
   */
  readonly scale?: number;
  /** A function's timeout in seconds instead of the one sls/functions.ts deploys (before scaling). */
  readonly functionSeconds?: Partial<Record<FunctionKey, number>>;
}

export type ExecutionOutcome =
  | { readonly status: 'SUCCEEDED'; readonly output: Json }
  | ({ readonly status: 'FAILED' } & ExecutionFailure);

/**
 * Runs a state machine from the same ASL file serverless.ts deploys, with each Task bound to the same
 * handler module the Lambda runs (found through serverless.ts's function map), and payloads passed
 * through JSON as Lambda would.
 */
export async function runStateMachine(
  key: StateMachineKey,
  input: Json,
  options: {
    runtime: () => Runtime;
    executionName: string;
    onInvoke?: (event: InvocationEvent) => void;
    timeouts?: RunnerTimeouts;
    /** Stand-ins for functions' handlers (tests that exercise the definition, not the function). */
    handlers?: Partial<Record<FunctionKey, Handler>>;
    /**
     * Every event of the execution as the library reports it: each state's entry (its input) and exit
     * (input and output), nested Map iterations included. Without it the events are not read at all.
     */
    onEvent?: (event: ExecutionEvent) => void;
  },
): Promise<ExecutionOutcome> {
  const definition = readYaml(STATE_MACHINE_FILES[key]) as unknown as StateMachineDefinition & {
    States: Record<string, AslState>;
  };
  const scale = options.timeouts?.scale ?? 1;
  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  for (const binding of taskBindings(definition)) {
    const handler =
      options.handlers?.[binding.functionKey] ?? loadHandlerModule(binding.functionKey).makeHandler(options.runtime);
    handlers[binding.state] = async (invocation) => {
      const payload = JSON.parse(JSON.stringify((invocation as { Payload?: Json }).Payload ?? {}));
      options.onInvoke?.({ ...binding, phase: 'start', input: payload });
      try {
        const startedAt = Date.now();
        const seconds =
          options.timeouts?.functionSeconds?.[binding.functionKey] ?? functions[binding.functionKey].timeout;
        const timeoutMs = seconds * 1000 * scale;
        const context: LambdaContext = {
          functionName: binding.functionKey,
          getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - startedAt)),
        };
        // Lambda would also stop the function; in-process it runs on, its result ignored.
        const result = await withTimeout(handler(payload, context), timeoutMs, () => new LambdaTimeoutError(seconds));
        const output = JSON.parse(JSON.stringify(result ?? null));
        options.onInvoke?.({ ...binding, phase: 'end', input: payload, output });
        return { Payload: output, StatusCode: 200 };
      } catch (error) {
        options.onInvoke?.({ ...binding, phase: 'error', input: payload });
        if (error instanceof LambdaTimeoutError) throw error;
        throw new LambdaFunctionError(error);
      }
    };
  }
  const validationOptions = { checkArn: true, checkPaths: true };
  // The library applies each Task's TimeoutSeconds (States.Timeout). A scaled copy runs when asked: its
  // fractional seconds fail the schema, so the file's own definition is the one validated.
  let machine = new StateMachine(definition, { validationOptions });
  if (scale !== 1) {
    machine = new StateMachine(scaleTaskTimeouts(definition, scale), { validationOptions: { noValidate: true } });
  }
  // The context object: $$.State.EnteredTime is read when a state evaluates it, as in AWS.
  const context = {
    Execution: {
      Id: `arn:aws:states:local:000000000000:execution:${key}:${options.executionName}`,
      Name: options.executionName,
    },
    StateMachine: { Id: `arn:aws:states:local:000000000000:stateMachine:${key}`, Name: key },
    State: {
      get EnteredTime() {
        return new Date().toISOString();
      },
    },
  };
  const execution = machine.run(input as never, {
    context: context as never,
    // Retries keep their order and count; only the waiting is shortened.
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: retryOverrides(definition) },
  });
  const events = options.onEvent ? readEvents(execution.eventLogs, options.onEvent) : undefined;
  // Awaited once the execution succeeds; after a failure nobody awaits it, so it must not go unhandled.
  events?.catch(() => undefined);
  try {
    const output = await execution.result;
    await events;
    return { status: 'SUCCEEDED', output };
  } catch (error) {
    if (error instanceof ExecutionError) {
      const cause = (error as Error & { cause?: { name?: string; message?: string } }).cause;
      return { status: 'FAILED', error: cause?.name ?? 'ExecutionError', cause: cause?.message ?? error.message };
    }
    throw error;
  }
}

async function readEvents(
  events: AsyncGenerator<ExecutionEvent>,
  onEvent: (event: ExecutionEvent) => void,
): Promise<void> {
  for await (const event of events) onEvent(event);
}

function scaleTaskTimeouts<T>(definition: T, scale: number): T {
  const copy = JSON.parse(JSON.stringify(definition)) as { States: Record<string, AslState> };
  const visit = (states: Record<string, AslState>) => {
    for (const state of Object.values(states)) {
      if (state.TimeoutSeconds !== undefined) state.TimeoutSeconds *= scale;
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
      if (state.Iterator) visit(state.Iterator.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(copy.States);
  return copy as T;
}

/** Locally a retried state waits 50 ms instead of seconds: emulators throttle on demand, not by load. */
function retryOverrides(definition: { States: Record<string, AslState> }): Record<string, number> {
  const out: Record<string, number> = {};
  const visit = (states: Record<string, AslState & { Retry?: unknown[] }>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Retry) out[name] = 50;
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
    }
  };
  visit(definition.States);
  return out;
}
