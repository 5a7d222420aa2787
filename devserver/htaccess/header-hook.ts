/**
 * Applies `Header` edits and `AddType` to whatever response is finally written for a request, whoever writes it
 * (static sender, PHP, error pages): Node's ServerResponse funnels both explicit writeHead() calls and implicit
 * headers (first write()/end()) through this.writeHead, so wrapping it on the instance catches every path.
 */
import type { ServerResponse } from 'node:http';
import { mergeHeadersArgument } from '../response.js';
import type { HeaderEdit } from './config.js';

export interface ResponseEdits {
  readonly headers: readonly HeaderEdit[];
  /** Content-Type to force (AddType), or null. */
  readonly contentType: () => string | null;
}

function applyEdit(res: ServerResponse, edit: HeaderEdit, status: number): void {
  // Without `always`, mod_headers edits the "onsuccess" table, which Apache does not send with error responses.
  if (!edit.always && status >= 400) return;
  const current = res.getHeader(edit.name);
  const currentText = current === undefined ? '' : Array.isArray(current) ? current.join(', ') : String(current);
  switch (edit.action) {
    case 'set': res.setHeader(edit.name, edit.value); break;
    case 'unset': res.removeHeader(edit.name); break;
    case 'setifempty': if (current === undefined) res.setHeader(edit.name, edit.value); break;
    case 'append':
      res.setHeader(edit.name, currentText === '' ? edit.value : `${currentText}, ${edit.value}`);
      break;
    case 'merge':
      if (!currentText.split(/\s*,\s*/).includes(edit.value)) {
        res.setHeader(edit.name, currentText === '' ? edit.value : `${currentText}, ${edit.value}`);
      }
      break;
    case 'add': {
      const list = current === undefined ? [] : Array.isArray(current) ? current : [String(current)];
      res.setHeader(edit.name, [...list, edit.value]);
      break;
    }
    default:
  }
}

export function installResponseEdits(res: ServerResponse, edits: ResponseEdits): void {
  const original = res.writeHead;
  // The wrapper takes writeHead's overloads: (status, headers?) and (status, reason, headers?).
  const wrapped = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]): ServerResponse {
    const reason = typeof rest[0] === 'string' ? rest[0] : undefined;
    const headers = typeof rest[0] === 'string' ? rest[1] : rest[0];
    mergeHeadersArgument(this, headers);
    const type = edits.contentType();
    if (type !== null && status < 300) this.setHeader('Content-Type', type);
    for (const edit of edits.headers) applyEdit(this, edit, status);
    this.writeHead = original;
    const call = original as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
    const args: unknown[] = [status];
    if (reason !== undefined) args.push(reason);
    return call.apply(this, args);
  };
  res.writeHead = wrapped as typeof res.writeHead;
}
