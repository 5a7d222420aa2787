/**
 * JSON.parse with a position a person can use. V8's messages on Node 20 give an offset for most errors but not
 * all ("Unexpected token '}', "<the whole text>" is not valid JSON" has none and echoes the file), so when
 * JSON.parse rejects the text, jsonc-parser's scanner (strict: no comments, no trailing commas) locates the
 * first error and names it; the offset becomes 1-based line:column as editors count them.
 */
import { ParseErrorCode, parse as scan, type ParseError } from 'jsonc-parser';

export class JsonSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(reason: string, line: number, column: number) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = 'JsonSyntaxError';
    this.line = line;
    this.column = column;
  }
}

export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

const REASONS: Readonly<Partial<Record<ParseErrorCode, string>>> = Object.freeze({
  [ParseErrorCode.InvalidSymbol]: 'unexpected character',
  [ParseErrorCode.InvalidNumberFormat]: 'bad number',
  [ParseErrorCode.PropertyNameExpected]: 'expected a key in double quotes',
  [ParseErrorCode.ValueExpected]: 'expected a value',
  [ParseErrorCode.ColonExpected]: "expected ':' after the key",
  [ParseErrorCode.CommaExpected]: "expected ',' between entries",
  [ParseErrorCode.CloseBraceExpected]: "expected '}'",
  [ParseErrorCode.CloseBracketExpected]: "expected ']'",
  [ParseErrorCode.EndOfFileExpected]: 'unexpected text after the end of the JSON value',
  [ParseErrorCode.InvalidCommentToken]: 'comments are not allowed in JSON',
  [ParseErrorCode.UnexpectedEndOfComment]: 'comments are not allowed in JSON',
  [ParseErrorCode.UnexpectedEndOfString]: 'string not closed on this line',
  [ParseErrorCode.UnexpectedEndOfNumber]: 'bad number',
  [ParseErrorCode.InvalidUnicode]: 'bad \\u escape in string',
  [ParseErrorCode.InvalidEscapeCharacter]: 'bad escape in string (use \\\\ for a backslash)',
  [ParseErrorCode.InvalidCharacter]: 'control character in string (write \\n, \\t …)',
});

function describe(text: string, error: ParseError): string {
  const reason = REASONS[error.error] ?? 'not valid JSON';
  if (error.error === ParseErrorCode.PropertyNameExpected && /^\s*[}\]]/.test(text.slice(error.offset))) {
    return `${reason} (JSON allows no comma after the last entry)`;
  }
  if (error.offset >= text.trimEnd().length) {
    return error.error === ParseErrorCode.ValueExpected ? 'unexpected end of file' : `unexpected end of file: ${reason}`;
  }
  if (error.error === ParseErrorCode.InvalidSymbol) {
    const ch = text.slice(error.offset).match(/^\S+/)?.[0]?.slice(0, 20);
    if (ch) return `${reason} ${JSON.stringify(ch)} (strings and keys need double quotes)`;
  }
  return reason;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const errors: ParseError[] = [];
    scan(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    if (first !== undefined) {
      const { line, column } = lineColumnAt(text, first.offset);
      throw new JsonSyntaxError(describe(text, first), line, column);
    }
    // The scanner accepted what V8 rejected (should not happen): fall back to V8's offset, if any.
    const position = /at position (\d+)/.exec(err.message)?.[1];
    const { line, column } = lineColumnAt(text, position === undefined ? text.length : Number(position));
    throw new JsonSyntaxError('not valid JSON', line, column);
  }
}
