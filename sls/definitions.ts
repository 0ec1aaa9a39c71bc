import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** Project root: this file sits one level below it. */
export const ROOT = join(__dirname, '..');

/** Reads a YAML file of the project (ASL definitions, CloudFormation fragments) as plain data. */
export function readYaml<T = Record<string, unknown>>(relativePath: string): T {
  return parse(readFileSync(join(ROOT, relativePath), 'utf8')) as T;
}

/** The state machines: key (used by `sls invoke stepf --name`) -> ASL file. */
export const STATE_MACHINE_FILES = {
  createUsersAndFanOut: 'stepfunctions/create-users-and-fan-out.asl.yml',
  deleteTestUsers: 'stepfunctions/delete-test-users.asl.yml',
} as const;

export type StateMachineKey = keyof typeof STATE_MACHINE_FILES;

/** The logical id serverless gives a function's CloudFormation resource (`planRun` -> `PlanRunLambdaFunction`). */
export const functionLogicalId = (key: string): string =>
  `${key.charAt(0).toUpperCase()}${key.slice(1).replace(/-/g, 'Dash').replace(/_/g, 'Underscore')}LambdaFunction`;

/** Every CloudFormation fragment in resources/, one file per concern, in a stable order. */
export const resourceFiles = (): string[] =>
  readdirSync(join(ROOT, 'resources'))
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => `resources/${name}`);
