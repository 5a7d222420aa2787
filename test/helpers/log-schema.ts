/**
 * The documented log record schema (schema/log-record.schema.json, docs/logging.md), compiled once with ajv, for
 * tests that check real log lines against it.
 */
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';

export const logSchema = JSON.parse(await readFile(new URL('../../schema/log-record.schema.json', import.meta.url), 'utf8')) as {
  properties: Record<string, unknown>;
};
// strictRequired off: the if/then rules require properties that the top level defines, not the rule itself.
const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(logSchema);

/** The ajv errors of one NDJSON line, as text; '' when it is a valid record. */
export function schemaErrors(line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return `not JSON: ${line}`;
  }
  return validate(record) ? '' : `${line}\n  ${JSON.stringify(validate.errors)}`;
}

/** Every JSON line of a log (lines not starting with '{', a banner, are not records and are left out). */
export function recordLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('{'));
}
