/**
 * A small, honest KMS + Secrets Manager emulator: the AWS JSON 1.1 protocol for exactly the operations
 * the handlers use, AWS's error names and key states, real AES-256-GCM encryption of secret values
 * under the named key, and injectable throttling for tests. Loopback only; state lives in memory.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const REGION = 'us-east-1';
/** The account every emulated ARN names; local handlers get its root ARN as their key-policy principal. */
export const EMULATED_ACCOUNT = '000000000000';
const ACCOUNT = EMULATED_ACCOUNT;

type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

interface Key {
  id: string;
  arn: string;
  state: KeyState;
  created: Date;
  description: string;
  deletionDate?: Date;
  material: Buffer;
  policy: string;
  tags: Map<string, string>;
}

interface Secret {
  name: string;
  arn: string;
  keyId: string;
  /** iv (12) + tag (16) + ciphertext, under the key's material. */
  sealed: Buffer;
  versionId: string;
  created: Date;
  description: string;
  tags: { Key: string; Value: string }[];
  /** Set by DeleteSecret with a recovery window: the secret is unusable but its name stays taken. */
  deletedDate?: Date;
}

/** An AWS-shaped error: `name` goes on the wire as `__type`. */
export class AwsError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;
type Operation = (body: Body) => unknown;

const ALIAS = /^(?:arn:[^:]+:kms:[^:]*:[^:]*:)?(alias\/.+)$/;
const KEY_ARN_PREFIX = /^arn:[^:]+:kms:[^:]*:[^:]*:key\//;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const keyArn = (id: string): string => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
const aliasArn = (name: string): string => `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`;

const seconds = (date: Date): number => date.getTime() / 1000;

/** KMS's list operations page with Limit/Marker (the marker is opaque; here, an offset). */
function page<T>(
  items: readonly T[],
  body: Body,
  maxLimit: number,
): { items: T[]; NextMarker?: string; Truncated: boolean } {
  const limit = body.Limit === undefined ? maxLimit : Number(body.Limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new AwsError('ValidationException', `Limit must be between 1 and ${maxLimit}`);
  }
  const start = body.Marker === undefined ? 0 : Number(body.Marker);
  if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidMarkerException', 'The marker is invalid');
  const end = start + limit;
  return end < items.length
    ? { items: items.slice(start, end), NextMarker: String(end), Truncated: true }
    : { items: items.slice(start), Truncated: false };
}

const defaultKeyPolicy = (): string =>
  JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  });
const str = (body: Body, field: string): string => {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new AwsError('ValidationException', `${field} is required`);
  return value;
};

export interface ThrottleRule {
  /** e.g. "GetSecretValue" or "TrentService.CreateKey"; undefined matches every operation. */
  readonly operation?: string;
  /** How many matching calls to refuse with ThrottlingException before answering normally again. */
  readonly count: number;
}

export class KmsSecretsEmulator {
  private readonly keys = new Map<string, Key>();
  private readonly aliases = new Map<string, string>();
  private readonly secrets = new Map<string, Secret>();
  private readonly throttles: { operation?: string; remaining: number }[] = [];
  /** Calls per operation (`Service.Operation`), for tests and the progress display. */
  readonly calls = new Map<string, number>();
  private server: Server | undefined;

  /** Refuse the next `count` matching calls with ThrottlingException, as AWS does under load. */
  injectThrottling(rule: ThrottleRule): void {
    this.throttles.push({ operation: rule.operation, remaining: rule.count });
  }

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Inspection for tests: key state by id or alias. */
  keyState(idOrAlias: string): { state: KeyState; deletionDate?: Date } | undefined {
    const key = this.findKey(idOrAlias);
    return key && { state: key.state, deletionDate: key.deletionDate };
  }

  secretNames(): string[] {
    return [...this.secrets.keys()];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    let status = 200;
    let payload: unknown;
    try {
      const operation = this.operations[target];
      if (!operation)
        throw new AwsError('UnknownOperationException', `operation ${target || '(none)'} is not emulated`);
      this.calls.set(target, (this.calls.get(target) ?? 0) + 1);
      this.maybeThrottle(target);
      const text = Buffer.concat(chunks).toString('utf8');
      payload = operation(text ? (JSON.parse(text) as Body) : {}) ?? {};
    } catch (error) {
      const aws = error instanceof AwsError ? error : new AwsError('InternalFailure', (error as Error).message, 500);
      status = aws.status;
      payload = { __type: aws.name, message: aws.message };
    }
    const body = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(body);
  }

  private maybeThrottle(target: string): void {
    const rule = this.throttles.find(
      (t) =>
        t.remaining > 0 && (t.operation === undefined || target === t.operation || target.endsWith(`.${t.operation}`)),
    );
    if (!rule) return;
    rule.remaining--;
    throw new AwsError('ThrottlingException', 'Rate exceeded');
  }

  // ---- KMS ----

  private findKey(idOrArnOrAlias: string): Key | undefined {
    let id = idOrArnOrAlias;
    const aliasMatch = ALIAS.exec(id);
    if (aliasMatch?.[1]) id = this.aliases.get(aliasMatch[1]) ?? '';
    id = id.replace(KEY_ARN_PREFIX, '');
    return this.keys.get(id);
  }

  /**
   * The key, or NotFoundException worded as KMS words it. Most KMS operations take a key id or ARN
   * only; the few that take an alias too (DescribeKey, Encrypt, Decrypt) say so.
   */
  private requireKey(id: string, { alias = false } = {}): Key {
    const isAlias = ALIAS.test(id);
    if (isAlias && !alias) throw new AwsError('NotFoundException', `Invalid keyId ${id}`);
    const key = this.findKey(id);
    if (key) return key;
    const bare = id.replace(KEY_ARN_PREFIX, '');
    if (isAlias) {
      const name = ALIAS.exec(id)?.[1] ?? id;
      throw new AwsError('NotFoundException', `Alias ${aliasArn(name)} is not found.`);
    }
    if (!UUID.test(bare)) throw new AwsError('NotFoundException', `Invalid keyId ${id}`);
    throw new AwsError('NotFoundException', `Key '${keyArn(bare)}' does not exist`);
  }

  private usableKey(idOrAlias: string): Key {
    const key = this.requireKey(idOrAlias, { alias: true });
    if (key.state !== 'Enabled') throw new AwsError('KMSInvalidStateException', `${key.arn} is ${key.state}`);
    return key;
  }

  private metadata(key: Key) {
    return {
      AWSAccountId: ACCOUNT,
      KeyId: key.id,
      Arn: key.arn,
      CreationDate: seconds(key.created),
      Enabled: key.state === 'Enabled',
      Description: key.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: false,
      KeyState: key.state,
      KeyManager: 'CUSTOMER',
      Origin: 'AWS_KMS',
      ...(key.deletionDate ? { DeletionDate: seconds(key.deletionDate) } : {}),
    };
  }

  private createKey(
    description: string,
    tags: { TagKey: string; TagValue: string }[],
    policy: string = defaultKeyPolicy(),
  ): Key {
    const id = randomUUID();
    const key: Key = {
      id,
      arn: keyArn(id),
      state: 'Enabled',
      created: new Date(),
      description,
      material: randomBytes(32),
      policy,
      tags: new Map(tags.map((t) => [t.TagKey, t.TagValue])),
    };
    this.keys.set(id, key);
    return key;
  }

  private seal(key: Key, plaintext: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.material, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
  }

  private unseal(key: Key, sealed: Buffer): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', key.material, sealed.subarray(0, 12));
    decipher.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
  }

  // ---- Secrets Manager ----

  private findSecret(id: string): Secret | undefined {
    return this.secrets.get(id) ?? [...this.secrets.values()].find((s) => s.arn === id);
  }

  private requireSecret(id: string, { deleted = false } = {}): Secret {
    const secret = this.findSecret(id);
    if (!secret) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    if (secret.deletedDate && !deleted) {
      throw new AwsError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    }
    return secret;
  }

  private sealSecret(keyId: string, text: string): Buffer {
    let key: Key;
    try {
      key = this.usableKey(keyId);
    } catch (error) {
      throw new AwsError(
        'EncryptionFailure',
        `Secrets Manager can't encrypt with KMS key ${keyId}: ${(error as Error).message}`,
      );
    }
    return this.seal(key, Buffer.from(text, 'utf8'));
  }

  private readonly operations: Record<string, Operation> = {
    'TrentService.CreateKey': (body) => {
      const tags = (body.Tags as { TagKey: string; TagValue: string }[] | undefined) ?? [];
      const description = typeof body.Description === 'string' ? body.Description : '';
      let policy: string | undefined;
      if (body.Policy !== undefined) {
        policy = str(body, 'Policy');
        try {
          JSON.parse(policy);
        } catch {
          throw new AwsError('MalformedPolicyDocumentException', 'The policy is not valid JSON');
        }
      }
      return { KeyMetadata: this.metadata(this.createKey(description, tags, policy)) };
    },
    'TrentService.GetKeyPolicy': (body) => {
      const key = this.requireKey(str(body, 'KeyId'));
      // PolicyName became optional in 2023; "default" is still the only policy a key has.
      if (body.PolicyName !== undefined && body.PolicyName !== 'default') {
        throw new AwsError('NotFoundException', 'No such policy exists');
      }
      return { Policy: key.policy, PolicyName: 'default' };
    },
    'TrentService.ListKeys': (body) => {
      const { items, ...rest } = page([...this.keys.values()], body, 1000);
      return { Keys: items.map((k) => ({ KeyId: k.id, KeyArn: k.arn })), ...rest };
    },
    'TrentService.DescribeKey': (body) => ({
      KeyMetadata: this.metadata(this.requireKey(str(body, 'KeyId'), { alias: true })),
    }),
    'TrentService.CreateAlias': (body) => {
      const alias = str(body, 'AliasName');
      if (!alias.startsWith('alias/')) throw new AwsError('ValidationException', 'Invalid identifier');
      // alias/aws/ belongs to AWS managed keys (moto answers with an empty message; ours says why).
      if (alias.startsWith('alias/aws/'))
        throw new AwsError('NotAuthorizedException', 'alias/aws/ is reserved for AWS managed keys');
      if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(alias)) {
        throw new AwsError(
          'ValidationException',
          `1 validation error detected: Value '${alias}' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$`,
        );
      }
      const target = str(body, 'TargetKeyId');
      if (ALIAS.test(target)) throw new AwsError('ValidationException', 'Aliases must refer to keys. Not aliases');
      if (this.aliases.has(alias)) {
        throw new AwsError('AlreadyExistsException', `An alias with the name ${aliasArn(alias)} already exists`);
      }
      const key = this.requireKey(target);
      if (key.state === 'PendingDeletion')
        throw new AwsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      this.aliases.set(alias, key.id);
      return {};
    },
    'TrentService.DeleteAlias': (body) => {
      const alias = str(body, 'AliasName');
      if (!alias.startsWith('alias/')) throw new AwsError('ValidationException', 'Invalid identifier');
      if (!this.aliases.delete(alias))
        throw new AwsError('NotFoundException', `Alias ${aliasArn(alias)} is not found.`);
      return {};
    },
    'TrentService.ListAliases': (body) => {
      const keyFilter = body.KeyId === undefined ? undefined : this.requireKey(str(body, 'KeyId')).id;
      const Aliases = [...this.aliases.entries()]
        .filter(([, keyId]) => keyFilter === undefined || keyId === keyFilter)
        .map(([name, keyId]) => ({
          AliasName: name,
          AliasArn: aliasArn(name),
          TargetKeyId: keyId,
        }));
      const { items, ...rest } = page(Aliases, body, 100);
      return { Aliases: items, ...rest };
    },
    'TrentService.TagResource': (body) => {
      const key = this.requireKey(str(body, 'KeyId'));
      if (key.state === 'PendingDeletion')
        throw new AwsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      for (const tag of (body.Tags as { TagKey: string; TagValue: string }[] | undefined) ?? [])
        key.tags.set(tag.TagKey, tag.TagValue);
      return {};
    },
    'TrentService.ListResourceTags': (body) => {
      const key = this.requireKey(str(body, 'KeyId'));
      const { items, ...rest } = page(
        [...key.tags].map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        body,
        50,
      );
      return { Tags: items, ...rest };
    },
    'TrentService.ScheduleKeyDeletion': (body) => {
      const key = this.requireKey(str(body, 'KeyId'));
      const days = body.PendingWindowInDays === undefined ? 30 : Number(body.PendingWindowInDays);
      if (!Number.isInteger(days) || days < 7 || days > 30) {
        throw new AwsError('ValidationException', 'PendingWindowInDays must be between 7 and 30');
      }
      if (key.state === 'PendingDeletion')
        throw new AwsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
      key.state = 'PendingDeletion';
      key.deletionDate = new Date(Date.now() + days * 86_400_000);
      return {
        KeyId: key.arn,
        DeletionDate: seconds(key.deletionDate),
        KeyState: key.state,
        PendingWindowInDays: days,
      };
    },
    'TrentService.CancelKeyDeletion': (body) => {
      const key = this.requireKey(str(body, 'KeyId'));
      if (key.state !== 'PendingDeletion')
        throw new AwsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
      key.state = 'Disabled';
      key.deletionDate = undefined;
      return { KeyId: key.arn };
    },
    'TrentService.Encrypt': (body) => {
      const key = this.usableKey(str(body, 'KeyId'));
      const sealed = this.seal(key, Buffer.from(str(body, 'Plaintext'), 'base64'));
      return { KeyId: key.arn, CiphertextBlob: Buffer.concat([Buffer.from(`${key.id}:`), sealed]).toString('base64') };
    },
    'TrentService.Decrypt': (body) => {
      const blob = Buffer.from(str(body, 'CiphertextBlob'), 'base64');
      const id = blob.subarray(0, 36).toString('utf8');
      const key = this.usableKey(id);
      try {
        return { KeyId: key.arn, Plaintext: this.unseal(key, blob.subarray(37)).toString('base64') };
      } catch {
        throw new AwsError('InvalidCiphertextException', 'The ciphertext is invalid');
      }
    },

    'secretsmanager.CreateSecret': (body) => {
      const name = str(body, 'Name');
      if (this.secrets.get(name)?.deletedDate) {
        throw new AwsError(
          'InvalidRequestException',
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      if (this.secrets.has(name))
        throw new AwsError(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      const keyId = typeof body.KmsKeyId === 'string' ? body.KmsKeyId : 'alias/aws/secretsmanager';
      if (keyId === 'alias/aws/secretsmanager' && !this.aliases.has(keyId)) {
        this.aliases.set(keyId, this.createKey('Default key for Secrets Manager', []).id);
      }
      const secret: Secret = {
        name,
        arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
        keyId,
        sealed: this.sealSecret(keyId, str(body, 'SecretString')),
        versionId: randomUUID(),
        created: new Date(),
        description: typeof body.Description === 'string' ? body.Description : '',
        tags: (body.Tags as { Key: string; Value: string }[] | undefined) ?? [],
      };
      this.secrets.set(name, secret);
      return { ARN: secret.arn, Name: name, VersionId: secret.versionId };
    },
    'secretsmanager.PutSecretValue': (body) => {
      const secret = this.requireSecret(str(body, 'SecretId'));
      secret.sealed = this.sealSecret(secret.keyId, str(body, 'SecretString'));
      secret.versionId = randomUUID();
      return { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, VersionStages: ['AWSCURRENT'] };
    },
    'secretsmanager.GetSecretValue': (body) => {
      const secret = this.requireSecret(str(body, 'SecretId'));
      let key: Key;
      try {
        key = this.usableKey(secret.keyId);
      } catch (error) {
        throw new AwsError(
          'DecryptionFailure',
          `Secrets Manager can't decrypt with KMS key ${secret.keyId}: ${(error as Error).message}`,
        );
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: secret.versionId,
        SecretString: this.unseal(key, secret.sealed).toString('utf8'),
        VersionStages: ['AWSCURRENT'],
        CreatedDate: seconds(secret.created),
      };
    },
    'secretsmanager.DeleteSecret': (body) => {
      const id = str(body, 'SecretId');
      const force = body.ForceDeleteWithoutRecovery === true;
      const days = body.RecoveryWindowInDays === undefined ? undefined : Number(body.RecoveryWindowInDays);
      if (days !== undefined && (!Number.isInteger(days) || days < 7 || days > 30)) {
        throw new AwsError(
          'InvalidParameterException',
          'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
        );
      }
      if (days !== undefined && force) {
        throw new AwsError(
          'InvalidParameterException',
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      const secret = this.findSecret(id);
      // As in AWS (and moto): forcing the deletion of a secret that does not exist succeeds.
      if (!secret && force) {
        return {
          ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}`,
          Name: id,
          DeletionDate: seconds(new Date()),
        };
      }
      const found = this.requireSecret(id, { deleted: true });
      if (force) {
        this.secrets.delete(found.name);
        return { ARN: found.arn, Name: found.name, DeletionDate: seconds(new Date()) };
      }
      if (found.deletedDate) {
        throw new AwsError(
          'InvalidRequestException',
          "You tried to perform the operation on a secret that's currently marked deleted.",
        );
      }
      found.deletedDate = new Date();
      const deletion = new Date(found.deletedDate.getTime() + (days ?? 30) * 86_400_000);
      return { ARN: found.arn, Name: found.name, DeletionDate: seconds(deletion) };
    },
    'secretsmanager.ListSecrets': (body) => {
      const filters = (body.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
      const namePrefixes = filters.filter((f) => f.Key === 'name').flatMap((f) => f.Values);
      const all = [...this.secrets.values()]
        .filter((s) => body.IncludePlannedDeletion === true || !s.deletedDate)
        .filter((s) => namePrefixes.length === 0 || namePrefixes.some((p) => s.name.startsWith(p)))
        .sort((a, b) => a.name.localeCompare(b.name));
      const max = typeof body.MaxResults === 'number' ? body.MaxResults : 100;
      const start = typeof body.NextToken === 'string' ? Number(body.NextToken) : 0;
      const page = all.slice(start, start + max);
      const next = start + max < all.length ? String(start + max) : undefined;
      return {
        SecretList: page.map((s) => ({
          ARN: s.arn,
          Name: s.name,
          KmsKeyId: s.keyId,
          Description: s.description,
          Tags: s.tags,
          CreatedDate: seconds(s.created),
        })),
        ...(next ? { NextToken: next } : {}),
      };
    },
  };
}
