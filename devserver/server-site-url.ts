/**
 * A site's production URL from its server's web server configuration, for applications that do not keep it in
 * a database as WordPress does: the `server_name` and `listen` of the nginx server block whose `root` is the
 * site (devserver/nginx/discover.ts finds it), else the `ServerName` of the Apache virtual host whose
 * `DocumentRoot` is the site, from Debian's /etc/apache2/sites-enabled/*.conf.
 *
 * Which name: the first literal one. nginx's `_` and `""` (catch-all, nginx docs "Server names"), wildcards
 * (`*.example.com`, `.example.com`) and regular expressions (`~…`) name no single host; neither does
 * `localhost`. Scheme: https when the block listens with `ssl` (nginx) or the virtual host has `SSLEngine on`
 * or port 443 (Apache); a virtual host for each, same DocumentRoot (the usual :80 redirect beside :443), is
 * taken as https. A TLS terminator in front of a plain-HTTP server cannot be seen from here: --site-url says so.
 */
import { posix } from 'node:path';
import { shellQuote } from '../fs/shell-quote.js';
import type { Directive } from './nginx/parser.js';
import type { ServerShell } from './nginx/discover.js';

export interface ServerSiteUrl {
  /** 'https://www.example.com' (a port only when not the scheme's default). */
  readonly url: string;
  /** Where it was read, for the start line: 'nginx server_name at FILE:LINE'. */
  readonly from: string;
}

export const DEFAULT_APACHE_ROOT = '/etc/apache2';

function literalName(name: string): string | null {
  const host = name.replace(/^"(.*)"$/, '$1').toLowerCase();
  if (host === '' || host === '_' || host === 'localhost' || host.startsWith('~') || host.startsWith('.') || host.includes('*')) return null;
  return host;
}

function urlOf(https: boolean, host: string, port: number | null): string {
  const shown = port === null || port === (https ? 443 : 80) ? '' : `:${port}`;
  return `${https ? 'https' : 'http'}://${host}${shown}`;
}

/** The port of an nginx `listen` address (`443`, `*:8080`, `[::]:443`, `127.0.0.1`); null for a unix: socket. */
function listenPort(address: string): number | null {
  if (address.startsWith('unix:')) return null;
  const m = /(?:^|:)(\d+)$/.exec(address);
  return m ? Number(m[1]) : 80;
}

/** The production URL an nginx server block names, or null when it names no single host. */
export function nginxSiteUrl(server: Directive): ServerSiteUrl | null {
  const directives = server.block ?? [];
  const nameDirective = directives.find((d) => d.name === 'server_name' && d.args.some((a) => literalName(a) !== null));
  if (!nameDirective) return null;
  const host = nameDirective.args.map(literalName).find((h) => h !== null) as string;
  const listens = directives.filter((d) => d.name === 'listen' && d.args.length > 0);
  const secure = listens.find((d) => d.args.includes('ssl'));
  const chosen = secure ?? listens[0];
  const port = chosen ? listenPort(chosen.args[0] as string) : 80;
  return { url: urlOf(secure !== undefined, host, port), from: `nginx server_name at ${nameDirective.file}:${nameDirective.line}` };
}

interface VirtualHost {
  readonly file: string;
  readonly line: number;
  readonly port: number | null;
  documentRoot: string | null;
  serverName: string | null;
  ssl: boolean;
}

/** An Apache argument without its quotes. */
const unquote = (value: string): string => value.replace(/^"(.*)"$/, '$1');

/** The <VirtualHost> blocks of one Apache configuration file (comments and other sections skipped). */
export function apacheVirtualHosts(file: string, text: string): VirtualHost[] {
  const hosts: VirtualHost[] = [];
  let current: VirtualHost | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const open = /^<VirtualHost\s+([^>]+)>$/i.exec(line);
    if (open) {
      const port = /:(\d+)(?:\s|$)/.exec(open[1] as string);
      current = { file, line: index + 1, port: port ? Number(port[1]) : null, documentRoot: null, serverName: null, ssl: false };
      return;
    }
    if (/^<\/VirtualHost>$/i.test(line)) {
      if (current) hosts.push(current);
      current = null;
      return;
    }
    const host: VirtualHost | null = current;
    if (host === null) return;
    const [name, value] = [line.split(/\s+/, 1)[0]?.toLowerCase(), line.replace(/^\S+\s+/, '')];
    if (name === 'documentroot') host.documentRoot = unquote(value);
    else if (name === 'servername') host.serverName = unquote(value);
    else if (name === 'sslengine') host.ssl = value.toLowerCase() === 'on';
  });
  return hosts;
}

const normaliseRoot = (path: string): string => posix.normalize(path).replace(/(.)\/+$/, '$1');

/** The production URL of the virtual host (among `files`, path → text) serving `root`; null when none names one. */
export function apacheSiteUrl(files: ReadonlyMap<string, string>, root: string): ServerSiteUrl | null {
  const wanted = normaliseRoot(root);
  const serving = [...files].flatMap(([file, text]) => apacheVirtualHosts(file, text))
    .filter((v) => v.documentRoot !== null && normaliseRoot(v.documentRoot) === wanted && v.serverName !== null);
  const secure = (v: VirtualHost): boolean => v.ssl || v.port === 443 || /^https:\/\//i.test(v.serverName ?? '');
  const chosen = serving.find(secure) ?? serving[0];
  if (!chosen) return null;
  // ServerName [scheme://]fully-qualified-domain-name[:port] (Apache core docs).
  const m = /^(?:(https?):\/\/)?([^:/]+)(?::(\d+))?$/i.exec(chosen.serverName as string);
  const host = m ? literalName(m[2] as string) : null;
  if (!m || host === null) return null;
  const https = m[1] !== undefined ? m[1].toLowerCase() === 'https' : secure(chosen);
  const port = m[3] !== undefined ? Number(m[3]) : chosen.port;
  return { url: urlOf(https, host, port), from: `Apache ServerName at ${chosen.file}:${chosen.line}` };
}

/**
 * Reads every sites-enabled/*.conf under `configRoot` in one command: NUL, name, NUL, text, for each file.
 * An empty map when there is no Apache configuration there.
 */
export async function readApacheSites(shell: ServerShell, configRoot: string = DEFAULT_APACHE_ROOT): Promise<Map<string, string>> {
  const dir = posix.join(configRoot, 'sites-enabled');
  const command = `cd ${shellQuote(dir)} 2>/dev/null || exit 0; for f in *.conf; do [ -f "$f" ] && [ -r "$f" ] || continue; printf '\\0%s\\0' "$f"; cat -- "$f"; done`;
  const result = await shell.exec(command);
  const files = new Map<string, string>();
  if (result.code !== 0) return files;
  const parts = result.stdout.toString('utf8').split('\0');
  for (let i = 1; i + 1 < parts.length; i += 2) files.set(posix.join(dir, parts[i] as string), parts[i + 1] as string);
  return files;
}
