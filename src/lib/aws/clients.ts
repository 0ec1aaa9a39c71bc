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

/**
 * One set of clients per cold start. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how local mode aims the very same code at the
 * emulators; retries are ours (see retry.ts), so the SDK's own are kept short.
 */
export function createClients(): AwsClients {
  const common = { maxAttempts: 2 };
  return {
    cognito: new CognitoIdentityProviderClient(common),
    kms: new KMSClient(common),
    secrets: new SecretsManagerClient(common),
    s3: new S3Client({ ...common, forcePathStyle: true }),
  };
}
