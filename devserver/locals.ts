/**
 * RequestContext.locals: the per-request facts middlewares hand to each other (including the PHP/CGI/.htaccess/
 * nginx ones), every key and the type of its value declared here, in one place, so a typo or a wrong type is a
 * compile error instead of a silent undefined.
 */
import type { ErrorDocumentFacts } from './cgi/run-script.js';
import type { SourceStat } from './file-source.js';
import type { DirectoryConfig } from './htaccess/config.js';
import type { MemoRecorder } from './response-memo.js';
import type { SiteUrl } from './site-url.js';

export interface RequestLocals {
  /** Why the request target was refused, set by the server before the stack runs. */
  badTarget: string;
  /** The stat of ctx.path after resolve.ts (index file applied, symlinks checked); null when nothing is there. */
  stat: SourceStat | null;
  /** Set while the live-reload script is still to be injected into an HTML response (send.ts injects static pages
   *  itself and clears it; body-transform/ injects into every other one). */
  liveReload: true;
  /** The production URL the application is shown (--site-url, site-url.ts). */
  siteUrl: SiteUrl;
  /** 'http://127.0.0.1:8080': the origin the browser used, before the Host header was replaced (--site-url). */
  localOrigin: string;
  /** The request body as rewritten by a middleware, sent instead of the client's (request-body.ts). */
  requestBody: Buffer;
  /** Set by the memo replay (middlewares/memo-replay.ts) when this request's answer may be memoised. */
  memoRecorder: MemoRecorder;
  /** Re-runs the stack for ctx.path from the dotfile check on (CGI local redirects, script error documents). */
  redispatch: () => Promise<void>;
  /** The merged .htaccess DirectoryConfig for the final path. */
  htaccessConfig: DirectoryConfig;
  /** Set once a script (PHP/CGI) answered: AddType must not override the script's own Content-Type. */
  scriptRan: true;
  /** Set once the .htaccess Header/AddType response hook is installed for this request. */
  htaccessEditsInstalled: true;
  /** Set once the nginx add_header/return edits are installed: a re-dispatched request keeps the first ones. */
  nginxEditsInstalled: true;
  /** How many CGI local redirects this request followed; set by the re-dispatch (the first script consumed the body). */
  localRedirects: number;
  /** php.ini settings from .htaccess php_value/php_flag, for PHP executors. */
  phpIni: ReadonlyMap<string, string>;
  /** Extra variables from RewriteRule [E=NAME:VALUE]. */
  cgiExtraEnv: Readonly<Record<string, string>>;
  /** Set when the script runs as an ErrorDocument: status and URL of the original error. */
  errorDocument: ErrorDocumentFacts;
}

/** A Map-like view of RequestLocals whose get/set are typed by key. */
export class Locals {
  private readonly values: Partial<RequestLocals> = {};

  get<K extends keyof RequestLocals>(key: K): RequestLocals[K] | undefined {
    return this.values[key];
  }

  set<K extends keyof RequestLocals>(key: K, value: RequestLocals[K]): void {
    this.values[key] = value;
  }

  /** No declared value is undefined, so "present" is "not undefined". */
  has(key: keyof RequestLocals): boolean {
    return this.values[key] !== undefined;
  }

  delete(key: keyof RequestLocals): void {
    delete this.values[key];
  }
}
