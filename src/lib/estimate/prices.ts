/**
 * AWS list prices (USD, on-demand, no free tiers unless a field says so) that `npm run plan` multiplies
 * by the usage it estimates. CHECK THIS TABLE AGAINST THE PRICING PAGES BEFORE RELYING ON IT: prices
 * change, and these were written from AWS's published list prices, not fetched by the tool.
 *
 * Where each number comes from (the AWS pricing page, by name):
 * - lambda*: "AWS Lambda Pricing", Arm price, first duration tier (7.5 billion GB-seconds a month);
 *   requests are the same price on both architectures. The functions are arm64 (serverless.ts).
 * - stepFunctions*: "AWS Step Functions Pricing", Standard workflows, per state transition (the
 *   Distributed Map's child executions are Standard, so they are priced the same way).
 * - s3*: "Amazon S3 Pricing", Requests & data retrievals, S3 Standard: PUT, COPY, POST, LIST per 1,000;
 *   GET, SELECT and all other requests per 1,000.
 * - secret*: "AWS Secrets Manager Pricing": per secret per month (prorated by the hours a secret exists)
 *   and per 10,000 API calls.
 * - kms*: "AWS Key Management Service Pricing": per customer managed key per month (prorated by the hour;
 *   a key pending deletion is not charged) and per 10,000 symmetric requests.
 * - cognito*: "Amazon Cognito Pricing", user pools, Essentials feature plan (the default plan of a pool
 *   created since November 2024; resources/cognito.yml sets none). The Lite and Essentials plans both
 *   have 10,000 MAU a month free per account; Lite costs $0.0055 per MAU above it.
 * - logsIngestionPerGb: "Amazon CloudWatch Pricing", Logs, Standard log class, data ingestion per GB.
 *
 * To update: change the numbers and the `date` below (the day the table was last checked), then run
 * `npx jest tests/unit/estimate.test.ts`; the tests' hand-worked examples name the prices they assume.
 */

export interface RegionPrices {
  /** USD per GB-second, arm64. */
  readonly lambdaGbSecond: number;
  readonly lambdaPerMillionRequests: number;
  readonly stepFunctionsPerThousandTransitions: number;
  /** PUT, COPY, POST and LIST requests. */
  readonly s3PutPerThousand: number;
  /** GET and all other requests. */
  readonly s3GetPerThousand: number;
  readonly secretPerMonth: number;
  readonly secretsPerTenThousandCalls: number;
  readonly kmsKeyPerMonth: number;
  readonly kmsPerTenThousandRequests: number;
  /** MAU each account gets free every month (Lite and Essentials plans). */
  readonly cognitoFreeMau: number;
  /** USD per MAU above the free ones (Essentials plan). */
  readonly cognitoPerMau: number;
  readonly logsIngestionPerGb: number;
}

export interface PriceTable {
  /** The day the numbers were last checked against the pricing pages (YYYY-MM-DD). */
  readonly date: string;
  /** Regions without their own entry are priced as this one (and the output says so). */
  readonly fallbackRegion: string;
  readonly regions: Readonly<Record<string, RegionPrices>>;
}

const US_EAST_1: RegionPrices = {
  lambdaGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  stepFunctionsPerThousandTransitions: 0.025,
  s3PutPerThousand: 0.005,
  s3GetPerThousand: 0.0004,
  secretPerMonth: 0.4,
  secretsPerTenThousandCalls: 0.05,
  kmsKeyPerMonth: 1,
  kmsPerTenThousandRequests: 0.03,
  cognitoFreeMau: 10_000,
  cognitoPerMau: 0.015,
  logsIngestionPerGb: 0.5,
};

export const PRICES: PriceTable = {
  date: '2026-11-26',
  fallbackRegion: 'us-east-1',
  regions: {
    'us-east-1': US_EAST_1,
    'us-west-2': US_EAST_1,
    // Ireland: the same as N. Virginia except CloudWatch Logs ingestion.
    'eu-west-1': { ...US_EAST_1, logsIngestionPerGb: 0.57 },
  },
};

/** Hours in a month as AWS prorates monthly prices (730 = 365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;

export interface PricesFor {
  readonly prices: RegionPrices;
  /** The region whose prices are used: `region` itself, or the table's fallback. */
  readonly pricedAs: string;
  readonly fallback: boolean;
}

export function pricesFor(region: string, table: PriceTable = PRICES): PricesFor {
  const own = table.regions[region];
  if (own) return { prices: own, pricedAs: region, fallback: false };
  const fallback = table.regions[table.fallbackRegion];
  if (!fallback) throw new Error(`price table has no entry for its fallback region ${table.fallbackRegion}`);
  return { prices: fallback, pricedAs: table.fallbackRegion, fallback: true };
}
