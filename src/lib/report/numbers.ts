/**
 * How every output writes a figure: the console table, report.html and its charts, JUnit, the
 * comparison table and the threshold messages in report.json. One place, so that the p95 a CI log shows
 * is the p95 the HTML shows, to the digit.
 */

const EN = 'en-US';
const fixed = (value: number, digits: number): string =>
  value.toLocaleString(EN, { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A latency: two decimals (10 µs; the histograms keep 1 µs), thousands separated: `1,234.57`. */
export const ms = (value: number): string => fixed(value, 2);

/** A count of users, requests, workers: `12,345`. */
export const count = (value: number): string => value.toLocaleString(EN, { maximumFractionDigits: 0 });

/** Per second (throughput): at most two decimals: `724.64`, `1,000`. */
export const rate = (value: number): string => value.toLocaleString(EN, { maximumFractionDigits: 2 });

/** A duration in seconds: two decimals. */
export const seconds = (value: number): string => fixed(value, 2);

/**
 * A ratio as a percentage, two decimals at least, and up to four so that a small limit (0.0001 = 0.01 %)
 * or one failure in a million is not shown as 0: `0.0123` -> `1.23 %`.
 */
export const percent = (ratio: number): string =>
  `${(ratio * 100).toLocaleString(EN, { minimumFractionDigits: 2, maximumFractionDigits: 4 })} %`;

/** A relative change, from the ratio now / before: `1.2` -> `+20.0 %`. */
export const change = (ratio: number): string => `${ratio >= 1 ? '+' : ''}${fixed((ratio - 1) * 100, 1)} %`;

/** A number someone configured (a limit, an axis tick), exactly as given but thousands separated. */
export const asGiven = (value: number): string => value.toLocaleString(EN, { maximumFractionDigits: 6 });

/** A ratio someone configured, as a percentage as given: `0.1` -> `10 %`. */
export const givenPercent = (ratio: number): string => `${asGiven(ratio * 100)} %`;

/** A difference of two ratios, in percentage points: `0.04` -> `4.00 pp`. */
export const points = (difference: number): string => `${fixed(difference * 100, 2)} pp`;

/** With a sign, for deltas: `+7.36`. */
export const signed = (value: number, format: (value: number) => string): string =>
  `${value > 0 ? '+' : ''}${format(value)}`;

export type ThresholdKey = 'p95Ms' | 'p99Ms' | 'maxErrorRate' | 'minThroughputRps';

/**
 * A threshold's value with its unit: an observed one rounded as every figure is, a limit as it was
 * configured (a limit of 0.001 ms stays 0.001).
 */
export function thresholdValue(key: ThresholdKey, value: number, as: 'observed' | 'limit'): string {
  switch (key) {
    case 'p95Ms':
    case 'p99Ms':
      return `${as === 'observed' ? ms(value) : asGiven(value)} ms`;
    case 'maxErrorRate':
      return as === 'observed' ? percent(value) : givenPercent(value);
    case 'minThroughputRps':
      return `${as === 'observed' ? rate(value) : asGiven(value)} responses/s`;
  }
}
