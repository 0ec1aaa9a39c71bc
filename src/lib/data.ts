import { GetObjectCommand } from '@aws-sdk/client-s3';
import { dataShardKey, putJson, type ResultsStore } from './aws/results';
import { errorName, InvalidInputError } from './errors';
import { type DataSource, LIMITS } from './input';
import type { Range } from './plan';
import { type RetryOptions, withRetry } from './retry';

/** A row of the data file: column -> value, every value a string. */
export type DataRow = Readonly<Record<string, string>>;

/** What a worker reads for one shard: rows[j] is the row of user firstUser + j. */
export interface DataShard {
  readonly firstUser: number;
  readonly rows: readonly DataRow[];
}

const FIELD = 'data.key';

/**
 * RFC 4180 CSV: the first row names the columns; quoted fields may hold commas, quotes ("") and line
 * breaks; CRLF or LF; a UTF-8 byte order mark is ignored. Empty lines are skipped.
 */
export function parseCsv(text: string): DataRow[] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const endField = () => {
    record.push(field);
    field = '';
  };
  const endRecord = () => {
    endField();
    // A blank line is one empty field: not a row.
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new InvalidInputError(FIELD, `CSV line ${line}: text after a closing quote`);
        }
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endRecord();
      line++;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      i++;
    }
  }
  if (quoted) throw new InvalidInputError(FIELD, `CSV line ${line}: a quoted field is never closed`);
  if (field !== '' || record.length > 0) endRecord();
  const [header, ...rows] = records;
  if (!header) throw new InvalidInputError(FIELD, 'the CSV file is empty: it needs a header row');
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '' || seen.has(name)) {
      throw new InvalidInputError(FIELD, `the CSV header needs unique, non-empty column names, got "${name}"`);
    }
    seen.add(name);
  }
  return rows.map((values, r) => {
    if (values.length !== header.length) {
      throw new InvalidInputError(FIELD, `CSV row ${r + 1} has ${values.length} fields, the header ${header.length}`);
    }
    const row: Record<string, string> = {};
    header.forEach((name, c) => {
      row[name] = values[c] ?? '';
    });
    return row;
  });
}

/** A JSON array of flat objects; numbers and booleans become their text, null an empty string. */
export function parseJsonRows(text: string): DataRow[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new InvalidInputError(FIELD, `the JSON file does not parse: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new InvalidInputError(FIELD, 'the JSON file must hold an array of objects');
  return parsed.map((item, r) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new InvalidInputError(FIELD, `JSON row ${r} must be an object`);
    }
    const row: Record<string, string> = {};
    for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
      if (value === null) row[name] = '';
      else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        row[name] = String(value);
      else throw new InvalidInputError(FIELD, `JSON row ${r}, "${name}": values must be strings, numbers or booleans`);
    }
    return row;
  });
}

/** Parses the file by its key's extension and checks the row limit and that every column read is in every row. */
export function parseDataFile(key: string, text: string, columns: ReadonlyMap<string, string>): DataRow[] {
  const rows = key.toLowerCase().endsWith('.csv') ? parseCsv(text) : parseJsonRows(text);
  if (rows.length === 0) throw new InvalidInputError(FIELD, `${key} holds no rows`);
  if (rows.length > LIMITS.maxDataRows) {
    throw new InvalidInputError(FIELD, `${key} holds ${rows.length} rows, more than ${LIMITS.maxDataRows}`);
  }
  for (const [column, usedBy] of columns) {
    const missing = rows.findIndex((row) => row[column] === undefined);
    if (missing >= 0) {
      throw new InvalidInputError(
        FIELD,
        `${usedBy} reads {{data.${column}}} but row ${missing} of ${key} has no "${column}"`,
      );
    }
  }
  return rows;
}

/** Reads the data file from the results bucket; a missing or oversized file is bad input, not a crash. */
export async function readDataFile(store: ResultsStore, source: DataSource, retry?: RetryOptions): Promise<string> {
  const where = `s3://${store.bucket}/${source.key}`;
  const out = await withRetry(async () => {
    try {
      return await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: source.key }));
    } catch (error) {
      // Without s3:ListBucket S3 answers a missing object with AccessDenied.
      if (['NoSuchKey', 'NotFound', 'AccessDenied', 'Forbidden'].includes(errorName(error))) {
        throw new InvalidInputError(FIELD, `no data file at ${where} (upload it first: see docs/scenarios.md)`);
      }
      throw error;
    }
  }, retry);
  if ((out.ContentLength ?? 0) > LIMITS.maxDataBytes) {
    (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw new InvalidInputError(FIELD, `${where} is ${out.ContentLength} bytes, more than ${LIMITS.maxDataBytes}`);
  }
  return (await out.Body?.transformToString('utf8')) ?? '';
}

/** User i gets row i mod rows: the rows of one shard's users. */
export function shardRows(rows: readonly DataRow[], shard: Range): DataShard {
  const out: DataRow[] = [];
  for (let user = shard.from; user <= shard.to; user++) out.push(rows[user % rows.length] ?? {});
  return { firstUser: shard.from, rows: out };
}

/** Writes one file per shard of USERS_PER_SHARD users, so that each worker reads only its users' rows. */
export async function writeDataShards(
  store: ResultsStore,
  runId: string,
  rows: readonly DataRow[],
  shards: readonly (Range & { shard: number })[],
  retry?: RetryOptions,
): Promise<void> {
  // A few at a time: up to 100 shards, each a small object.
  const parallel = 10;
  for (let i = 0; i < shards.length; i += parallel) {
    await Promise.all(
      shards
        .slice(i, i + parallel)
        .map((shard) =>
          withRetry(() => putJson(store, dataShardKey(runId, shard.shard), shardRows(rows, shard)), retry),
        ),
    );
  }
}
