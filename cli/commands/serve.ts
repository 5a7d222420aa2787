/**
 * `devmount serve [DIR]`: the dev server over a local directory. Flags are parsed and checked
 * here, resolved once into frozen DevServerOptions, and handed to devserver/server.ts. PHP/CGI/proxy
 * flags plug in through `serveFlagHooks` (slots of devserver/stack.ts) without touching this file's core.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import { UserError } from '../user-error.js';
import { ExitCode } from '../exit-codes.js';
import { createDevServer, type DevServer, type DevServerOptions } from '../../devserver/server.js';
import { openServeLog, type ServeLog } from '../logs/serve-log.js';
import { LocalFileSource } from '../../devserver/sources/local.js';
import { parseSiteUrl, SiteUrlError, type SiteUrl } from '../../devserver/site-url.js';
import { phpServeHook } from './serve-php.js';
import { routingServeHook, frontControllerFlag, serverConfigServeHook } from './serve-routing.js';
import { detectAppLayout, type AppLayout } from '../../devserver/app-layout.js';
import type { Slots } from '../../devserver/stack.js';
import { looksRemote, printServing, remoteServeHook, runRemoteServe } from './serve-remote.js';
import type { ServeFlagHook, ServeFlags, ServeHookContext, ServeHookResult } from './serve-flags.js';

// Order matters for the slots: each hook's middlewares follow the previous hooks' in the same slot (.htaccess
// before the front controller).
// The server config comes first: with an nginx server block in charge, .htaccess and the front controller stand aside.
export const serveFlagHooks: ServeFlagHook[] = [serverConfigServeHook, phpServeHook, routingServeHook, remoteServeHook];

export function register(program: Command): void {
  const command = program.command('serve')
    .description('Serve a site directory on localhost with live reload.')
    .argument('[dir]', 'directory to serve, or [user@]host:/path for a remote site', '.')
    .option('-p, --port <n>', 'port (default 8080, or the next free one)')
    .option('--host <addr>', 'address to bind (0.0.0.0 to allow other machines)', '127.0.0.1')
    .option('--open', 'open the browser at start')
    .option('--no-listing', 'no directory listings (404 instead)')
    .option('--spa', 'single-page app: unknown pages answer with /index.html')
    .option('--cors', 'send Access-Control-Allow-Origin: * and answer preflights')
    .option('--header <k:v>', 'add a response header (repeatable)', collect, [])
    .option('--no-livereload', 'no live-reload script, no reloads')
    .option('--poll <ms>', 'watch by polling every MS milliseconds (automatic on FUSE/network filesystems)')
    .option('--follow-symlinks', 'serve symlinks that point outside DIR (403 otherwise)')
    .option('--site-url <url>', "the site's production URL (https://www.example.com): the application sees it, responses point at localhost")
    .option('--allowed-host <name>', 'accept requests with this Host name (repeatable; "all" to disable the check)', collect, [])
    .addOption(new Option('--log-format <format>', 'request log format').choices(['auto', 'json', 'pretty']).default('auto'));
  for (const hook of serveFlagHooks) hook.addOptions(command);
  command.action(async (dir: string, flags: ServeFlags) => {
    await runServe(dir, flags);
  });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface ResolvedFlags {
  readonly port: number;
  readonly strictPort: boolean;
  readonly headers: readonly (readonly [string, string])[];
  readonly pollMs: number | null;
  readonly allowedHosts: readonly string[] | 'all';
  readonly siteUrl: SiteUrl | null;
}

export function resolveFlags(flags: ServeFlags): ResolvedFlags {
  const port = flags.port === undefined ? 8080 : parseInteger(flags.port, '--port', 0, 65535);
  const headers = flags.header.map((h): readonly [string, string] => {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim() : '';
    // RFC 9110 §5.1 token characters; values must not carry CR/LF (header injection).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(h)) {
      throw new UserError('usage', `--header "${h}" is not NAME:VALUE (example: --header "X-Frame-Options: DENY")`);
    }
    return [name, h.slice(colon + 1).trim()];
  });
  const pollMs = flags.poll === undefined ? null : parseInteger(flags.poll, '--poll', 50, 3_600_000);
  const allowedHosts = flags.allowedHost.includes('all') ? 'all' : flags.allowedHost.map((h) => h.toLowerCase());
  return Object.freeze({ port, strictPort: flags.port !== undefined, headers, pollMs, allowedHosts, siteUrl: siteUrlFlag(flags.siteUrl) });
}

function siteUrlFlag(value: string | undefined): SiteUrl | null {
  if (value === undefined) return null;
  try {
    return parseSiteUrl(value);
  } catch (err) {
    if (err instanceof SiteUrlError) throw new UserError('usage', `--site-url: ${err.message}`);
    throw err;
  }
}

function parseInteger(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UserError('usage', `${flag} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

/** The dev server's options from the flags, the same for a local and a remote site; the hooks' extras go first. */
async function serverOptions(flags: ServeFlags, resolved: ResolvedFlags, context: ServeHookContext): Promise<Omit<DevServerOptions, 'source'>> {
  const siteUrl = resolved.siteUrl ?? context.site?.siteUrl;
  const extra = await resolveHooks(flags, context);
  return {
    ...extra,
    logger: context.log,
    host: flags.host,
    port: resolved.port,
    strictPort: resolved.strictPort,
    allowedHosts: resolved.allowedHosts,
    cors: flags.cors ?? false,
    headers: resolved.headers,
    liveReload: flags.livereload,
    // --site-url wins over the URL detected from a remote site's database (cli/remote-serve.ts).
    ...(siteUrl !== undefined ? { siteUrl } : {}),
    spa: flags.spa ?? false,
    listing: flags.listing,
    followSymlinks: flags.followSymlinks ?? false,
  };
}

/** Every hook's extras; slots and closers add up in hook order (a later hook's middlewares follow in a slot). */
export async function resolveHooks(flags: ServeFlags, context: ServeHookContext): Promise<Partial<DevServerOptions>> {
  let extra: Partial<DevServerOptions> = {};
  let slots: Slots = {};
  let closers: NonNullable<DevServerOptions['closers']> = [];
  let current = context;
  try {
    for (const hook of serveFlagHooks) {
      const added = await hook.resolve(flags, current);
      if (added.routedBy !== undefined) current = { ...current, routedBy: added.routedBy };
      extra = { ...extra, ...added };
      slots = mergeSlots(slots, added.slots ?? {});
      closers = [...closers, ...(added.closers ?? [])];
    }
  } catch (err) {
    // A later hook's bad flag must not leave an earlier hook's PHP workers running.
    await Promise.allSettled(closers.map(async (close) => close()));
    throw err;
  }
  const { routedBy: _routedBy, ...options } = extra as ServeHookResult;
  return { ...options, slots, closers };
}

function mergeSlots(a: Slots, b: Slots): Slots {
  const names = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof Slots>);
  return Object.fromEntries([...names].map((name) => [name, [...(a[name] ?? []), ...(b[name] ?? [])]]));
}

/**
 * The directory to serve: DIR, or its web root when DIR holds an application that serves a subdirectory
 * (Laravel's and Symfony's public/), unless --front-controller was given.
 */
async function openSiteSource(dir: string, resolved: ResolvedFlags, flags: ServeFlags): Promise<{ source: LocalFileSource; layout: AppLayout | null | undefined }> {
  const watch = resolved.pollMs === null ? 'auto' as const : { pollMs: resolved.pollMs };
  const source = await LocalFileSource.open(dir, { watch });
  if (frontControllerFlag(flags) !== undefined) return { source, layout: undefined };
  const layout = await detectAppLayout(source).catch(async (err: unknown) => {
    await source.close();
    throw err;
  });
  if (layout === null || layout.webRoot === '/') return { source, layout };
  await source.close();
  return { source: await LocalFileSource.open(join(dir, layout.webRoot), { watch }), layout };
}

async function runServe(dir: string, flags: ServeFlags): Promise<void> {
  const resolved = resolveFlags(flags);
  if (looksRemote(dir) && !(await stat(dir).then((s) => s.isDirectory(), () => false))) {
    await runRemoteServe(dir, flags, (context) => serverOptions(flags, resolved, context));
    return;
  }
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) {
    throw new UserError('usage', `${dir} is not a directory: give the site directory to serve`);
  }
  const serveLog = await openServeLog(flags.logFormat, resolvePath(dir));
  const log = serveLog.logger;
  const { source, layout } = await openSiteSource(dir, resolved, flags);
  let server: DevServer;
  try {
    server = await createDevServer(Object.freeze({ ...(await serverOptions(flags, resolved, { source, log, layout })), source }));
  } catch (err) {
    await source.close();
    throw err;
  }
  const watchNote = source.watchMode.kind === 'poll' ? `polling every ${source.watchMode.pollMs} ms` : 'watching for changes';
  printServing(`${source.description} (${watchNote}${flags.livereload ? ', live reload on' : ''})`, server);
  // Signals first: whatever the opener does (and whoever it tells) may already stop us.
  stopOnSignals(server, serveLog);
  if (flags.open) openBrowser(server.url, log);
}

function openBrowser(url: string, log: Logger): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', (err) => log.warn({ err: err.message }, `could not open a browser; open ${url} yourself`));
  child.unref();
}

function stopOnSignals(server: DevServer, serveLog: ServeLog): void {
  // SIGINT exits 130 (128 + 2, as shells report it, cli/exit-codes.ts); SIGTERM is a requested stop: 0.
  const stop = (code: number) => () => {
    void server.close().then(() => serveLog.close()).finally(() => process.exit(code));
  };
  process.once('SIGINT', stop(ExitCode.interrupted));
  process.once('SIGTERM', stop(ExitCode.ok));
}
