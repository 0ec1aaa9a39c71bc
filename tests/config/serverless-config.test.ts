import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { functionLogicalId, ROOT, readYaml, STATE_MACHINE_FILES } from '../../sls/definitions';
import { functions } from '../../sls/functions';
import { STACK, STACK_TAG, stateMachineRoleLogicalId, stateMachineStatements } from '../../sls/iam';
import { ENV } from '../../src/lib/config';
import { PROVISION_PARALLEL_SHARDS, WORKERS_PER_GROUP } from '../../src/lib/plan';
import { localHandlerEnv } from '../../src/local/environment';
import { taskBindings } from '../../src/local/workflow-runner';

// eslint-free require: serverless.ts sets module.exports, as osls expects.
const config = require('../../serverless') as Record<string, any>;
const aslValidator = require('asl-validator') as (definition: unknown) => { isValid: boolean; errors: unknown[] };

type State = Record<string, any>;
const definitions = Object.fromEntries(
  Object.entries(STATE_MACHINE_FILES).map(([key, file]) => [key, readYaml(file) as { States: Record<string, State> }]),
);

/** Every state of a definition, nested processors included, with its name. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor.States) : []),
  ]);
}

/** The definition with the CloudFormation GetAtt replaced by an ARN, as it is after deployment. */
const deployed = (definition: unknown) =>
  JSON.parse(
    JSON.stringify(definition, (_key, value) =>
      value && typeof value === 'object' && 'Fn::GetAtt' in value
        ? `arn:aws:lambda:us-east-1:123456789012:function:${value['Fn::GetAtt'][0]}`
        : value,
    ),
  );

describe('serverless.ts', () => {
  it('is the apiloadtest service on nodejs22.x with strict config validation', () => {
    expect(config.service).toBe('apiloadtest');
    expect(config.configValidationMode).toBe('error');
    expect(config.provider.runtime).toBe('nodejs22.x');
    expect(config.stepFunctions.validate).toBe(true);
    expect(config.plugins).toEqual(expect.arrayContaining(['serverless-esbuild', 'serverless-step-functions']));
  });

  it('keys the state machines createUsersAndFanOut and deleteTestUsers', () => {
    expect(Object.keys(config.stepFunctions.stateMachines).sort()).toEqual(['createUsersAndFanOut', 'deleteTestUsers']);
  });

  it('tags state machines once, through provider.tags, and runs each with its own role', () => {
    expect(config.provider.tags).toEqual({ [STACK_TAG]: STACK });
    for (const [key, machine] of Object.entries<Record<string, any>>(config.stepFunctions.stateMachines)) {
      expect(machine.tags).toBeUndefined();
      const roleId = stateMachineRoleLogicalId(key as keyof typeof STATE_MACHINE_FILES);
      expect(machine.role).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
      expect(config.resources.Resources[roleId].Type).toBe('AWS::IAM::Role');
    }
  });

  it('points every function at a handler module that exports handler and makeHandler', () => {
    for (const [key, fn] of Object.entries(functions)) {
      const file = `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`;
      expect(existsSync(join(ROOT, file))).toBe(true);
      const mod = require(join(ROOT, file));
      expect(typeof mod.handler).toBe('function');
      expect(typeof mod.makeHandler).toBe('function');
      // Lambda names are <service>-<stage>-<key>, at most 64 characters (stage names up to 20 fit).
      expect(`apiloadtest-${'x'.repeat(20)}-${key}`.length).toBeLessThanOrEqual(64);
      expect(fn.timeout).toBeLessThanOrEqual(900);
    }
  });

  it('gives the Lambdas every variable config.ts reads', () => {
    expect(Object.keys(config.provider.environment)).toEqual(expect.arrayContaining(Object.values(ENV)));
  });

  it('gives the local handlers the same variables as the Lambdas', () => {
    const local = Object.keys(
      localHandlerEnv({ userPoolId: 'p', clientId: 'c', bucket: 'b' }, 'http://127.0.0.1:1/'),
    ).sort();
    const deployed = Object.keys(config.provider.environment)
      .filter((name) => name.startsWith('LOADTEST_'))
      .sort();
    expect(local).toEqual(deployed);
  });

  it('takes apiGatewayUrl as a param and refuses to deploy without it', () => {
    expect(config.provider.environment[ENV.targetUrl]).toContain('${param:apiGatewayUrl');
    const Plugin = require('../../sls/require-api-url.js');
    const check = (url: string) =>
      new Plugin({ service: { provider: { environment: { [ENV.targetUrl]: url } } } }).check();
    expect(() => check('')).toThrow(/sls deploy --param apiGatewayUrl=https:\/\//);
    expect(() => check('http://insecure.example.com')).toThrow(/https/);
    expect(() => check('https://abc.execute-api.eu-west-1.amazonaws.com/items')).not.toThrow();
  });

  it('refuses appClientId without userPoolId', () => {
    const Plugin = require('../../sls/require-api-url.js');
    const given = (value: string) => ({ 'Fn::If': ['Condition', { Ref: 'Resource' }, value] });
    const check = (pool: string, client: string) =>
      new Plugin({
        service: {
          provider: {
            environment: { [ENV.userPoolId]: given(pool), [ENV.userPoolClientId]: given(client) },
          },
        },
      }).checkPool();
    expect(() => check('', 'abc')).toThrow(/appClientId needs userPoolId/);
    expect(() => check('us-east-1_x', 'abc')).not.toThrow();
    expect(() => check('us-east-1_x', '')).not.toThrow();
    expect(() => check('', '')).not.toThrow();
    expect(() => check('arn:aws:cognito-idp:us-east-1:1:userpool/us-east-1_x', '')).toThrow(/not a user pool id/);
  });
});

describe('state machines', () => {
  it.each(Object.keys(definitions))('%s is valid ASL', (key) => {
    const result = aslValidator(deployed(definitions[key]));
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it.each(Object.keys(definitions))(
    '%s: every Task invokes a function of serverless.ts, with Retry and a Catch ending in Fail',
    (key) => {
      const definition = definitions[key] as { States: Record<string, State> };
      const states = allStates(definition.States);
      const tasks = states.filter(([, s]) => s.Type === 'Task');
      expect(tasks.length).toBeGreaterThan(0);
      expect(taskBindings(definition as never).length).toBe(tasks.length);
      const byName = new Map(states);
      for (const [name, task] of tasks) {
        expect(task.Resource).toBe('arn:aws:states:::lambda:invoke');
        expect(Object.keys(functions).map(functionLogicalId)).toContain(task.Parameters.FunctionName['Fn::GetAtt'][0]);
        expect(task.Retry?.length).toBeGreaterThan(0);
        expect(task.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['Lambda.TooManyRequestsException']));
        expect(task.TimeoutSeconds).toBeGreaterThan(0);
        const catchAll = task.Catch?.find((c: State) => c.ErrorEquals.includes('States.ALL'));
        // A failed worker is recorded, not fatal (the report must still be made); everything else fails the run.
        const expected = name === 'RunWorker' ? 'Task' : name === 'RecordWorkerFailure' ? 'Pass' : 'Fail';
        expect({ name, next: byName.get(catchAll?.Next)?.Type }).toEqual({ name, next: expected });
      }
    },
  );

  it('routes InvalidInput from Plan to a Fail state that keeps the error and its cause', () => {
    const states = definitions.createUsersAndFanOut?.States as Record<string, State>;
    const plan = states.Plan as State;
    const invalid = plan.Catch.find((c: State) => c.ErrorEquals.includes('InvalidInput'));
    const target = states[invalid.Next] as State;
    expect(target.Type).toBe('Fail');
    expect(target.ErrorPath).toBe('$.error.Error');
    expect(target.CausePath).toBe('$.error.Cause');
  });

  it('fails the execution with the verdict error and cause, after Aggregate has written the report', () => {
    const states = definitions.createUsersAndFanOut?.States as Record<string, State>;
    expect(states.Aggregate?.Next).toBe('Verdict');
    expect(states.Verdict?.Choices[0]).toMatchObject({ Variable: '$.verdict.passed', BooleanEquals: true });
    expect(states[states.Verdict?.Default]).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.verdict.error',
      CausePath: '$.verdict.cause',
    });
  });

  it('runs Aggregate however fan-out ends, and records failed workers instead of failing the fan-out', () => {
    const all = Object.fromEntries(allStates(definitions.createUsersAndFanOut?.States as Record<string, State>));
    expect(all.FanOut?.ToleratedFailurePercentage).toBe(100);
    expect(all.FanOut?.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Aggregate' })]);
    expect(all.FanOut?.Next).toBe('Aggregate');
    expect(all.RunWorker?.Catch[0].Next).toBe('RecordWorkerFailure');
    expect(all.RecordWorkerFailure?.Parameters.Payload.failedWorker['error.$']).toBe('$.error');
  });

  it('keeps the Map limits in step with the code', () => {
    const states = Object.fromEntries(allStates(definitions.createUsersAndFanOut?.States as Record<string, State>));
    expect(states.Provision?.MaxConcurrency).toBe(PROVISION_PARALLEL_SHARDS);
    expect(states.FanOut?.ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(WORKERS_PER_GROUP).toBeLessThanOrEqual(40);
    expect(states.Workers?.MaxConcurrency).toBe(WORKERS_PER_GROUP);
    // Step Functions state is capped at 256 KiB: per-user results never go back into it.
    expect(states.FanOut?.ResultPath).toBeNull();
    expect(states.Workers?.ResultPath).toBeNull();
  });

  it('labels every Distributed Map: its role names the child executions by the label', () => {
    const unlabelled = {
      States: {
        Fan: {
          Type: 'Map',
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' }, StartAt: 'P', States: { P: { Type: 'Pass' } } },
        },
      },
    };
    expect(() => stateMachineStatements('createUsersAndFanOut', unlabelled)).toThrow(
      /Distributed Map Fan needs a Label/,
    );
    for (const [key, definition] of Object.entries(definitions)) {
      expect(() => stateMachineStatements(key as keyof typeof STATE_MACHINE_FILES, definition)).not.toThrow();
    }
  });

  it('never retries a worker after it may have sent requests', () => {
    const states = Object.fromEntries(allStates(definitions.createUsersAndFanOut?.States as Record<string, State>));
    const errors = states.RunWorker?.Retry.flatMap((r: State) => r.ErrorEquals);
    expect(errors).toEqual(['Lambda.TooManyRequestsException']);
  });
});
