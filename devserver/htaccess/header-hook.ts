/**
 * Applies `Header` edits and `AddType` to whatever response is finally written for a request, whoever writes it
 * (static sender, PHP, error pages): Node's ServerResponse funnels both explicit writeHead() calls and implicit
 * headers (first write()/end()) through this.writeHead, so wrapping it on the instance catches every path.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HeaderEdit } from './config.js';

export interface ResponseEdits {
  /** The edits, or the edits for the status finally sent (nginx's add_header depends on it). */
  readonly headers: readonly HeaderEdit[] | ((status: number) => readonly HeaderEdit[]);
  /** Content-Type to force (AddType), or null. */
  readonly contentType: () => string | null;
  /** The status to send instead of the one written (nginx's error_page keeps the error's status); default: as written. */
  readonly status?: (status: number) => number;
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
  const wrapped = function writeHead(this: ServerResponse, written: number, ...rest: unknown[]): ServerResponse {
    const status = edits.status?.(written) ?? written;
    const reason = typeof rest[0] === 'string' ? rest[0] : undefined;
    const headers = (typeof rest[0] === 'string' ? rest[1] : rest[0]) as OutgoingHttpHeaders | readonly unknown[] | undefined;
    if (Array.isArray(headers)) {
      // Flat [name, value, …] or nested [[name, value], …], merged as Node's own writeHead does: fields given
      // here replace earlier ones of the same name but may repeat among themselves.
      const pairs: Array<[string, unknown]> = Array.isArray(headers[0])
        ? (headers as Array<[string, unknown]>)
        : Array.from({ length: headers.length / 2 }, (_, i) => [String(headers[2 * i]), headers[2 * i + 1]] as [string, unknown]);
      for (const [name] of pairs) this.removeHeader(name);
      for (const [name, value] of pairs) this.appendHeader(name, value as string | readonly string[]);
    } else if (headers !== undefined) {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
        if (value !== undefined) this.setHeader(name, value);
      }
    }
    const type = edits.contentType();
    if (type !== null && status < 300) this.setHeader('Content-Type', type);
    for (const edit of typeof edits.headers === 'function' ? edits.headers(status) : edits.headers) applyEdit(this, edit, status);
    this.writeHead = original;
    const call = original as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
    const args: unknown[] = [status];
    if (reason !== undefined) args.push(reason);
    return call.apply(this, args);
  };
  res.writeHead = wrapped as typeof res.writeHead;
}
