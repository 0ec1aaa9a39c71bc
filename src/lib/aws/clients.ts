import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface AwsClients {
  readonly cognito: CognitoIdentityProviderClient;
  readonly kms: KMSClient;
  readonly secrets: SecretsManagerClient;
  readonly s3: S3Client;
}

/** Explicit settings, used by local mode; in Lambda everything comes from the environment. */
export interface ClientOptions {
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly endpoints?: Partial<Record<keyof AwsClients, string>>;
}

/**
 * One set of clients per cold start. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how local mode aims the very same code at the
 * emulators; retries are ours (see retry.ts), so the SDK's own are kept short.
 */
export function createClients(options: ClientOptions = {}): AwsClients {
  const common = { maxAttempts: 2, region: options.region, credentials: options.credentials };
  const at = (endpoint: string | undefined) => (endpoint ? { endpoint } : {});
  return {
    cognito: new CognitoIdentityProviderClient({ ...common, ...at(options.endpoints?.cognito) }),
    kms: new KMSClient({ ...common, ...at(options.endpoints?.kms) }),
    secrets: new SecretsManagerClient({ ...common, ...at(options.endpoints?.secrets) }),
    s3: new S3Client({ ...common, ...at(options.endpoints?.s3), forcePathStyle: true }),
  };
}
