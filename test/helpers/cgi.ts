/** Pieces the CGI executor tests share: the CGI/1.1 environment (RFC 3875 §4.1) and reading a stream to the end. */
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** The environment for a GET of `/script` with document root `dir`; `extra` overrides or adds variables. */
export function cgiEnv(dir: string, script: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET', SCRIPT_FILENAME: join(dir, script), SCRIPT_NAME: `/${script}`,
    REQUEST_URI: `/${script}`, QUERY_STRING: '', REDIRECT_STATUS: '200', DOCUMENT_ROOT: dir, SERVER_PROTOCOL: 'HTTP/1.1', ...extra,
  };
}

export async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
