/**
 * `devmount serve [DIR]`: the dev server over a local directory. Flags are parsed and checked
 * here, resolved once into frozen DevServerOptions (serve-features.ts, shared with `mount --serve`), and handed to
 * devserver/server.ts. PHP/CGI/proxy flags plug in through `serveFlagHooks` (slots of devserver/stack.ts).
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import { UserError } from '../user-error.js';
import { createDevServer, type DevServer } from '../../devserver/server.js';
import { openServeLog } from '../logs/serve-log.js';
import { createCloserStack } from '../../fs/closers.js';
import { exitOnSignals } from '../exit-on-signals.js';
import { LocalFileSource } from '../../devserver/sources/local.js';
import { frontControllerFlag } from './serve-routing.js';
import { detectAppLayout, type AppLayout } from '../../devserver/app-layout.js';
import { looksRemote, printServing, runRemoteServe } from './serve-remote.js';
import { assembleServeFeatures, resolveFlags, serveFlagHooks, type ResolvedFlags } from './serve-features.js';
import type { ServeFlags } from './serve-flags.js';

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
    await runRemoteServe(dir, flags, (context) => assembleServeFeatures(flags, resolved, context));
    return;
  }
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) {
    throw new UserError('usage', `${dir} is not a directory: give the site directory to serve`);
  }
  const serveLog = await openServeLog(flags.logFormat, resolvePath(dir));
  const log = serveLog.logger;
  // A stop and a failed start unwind the same closers: the server (its features), the source, the log last.
  const closers = createCloserStack();
  closers.push(() => serveLog.close());
  let served: { source: LocalFileSource; server: DevServer };
  try {
    const { source, layout } = await openSiteSource(dir, resolved, flags);
    closers.push(() => source.close());
    const server = await createDevServer(Object.freeze({ ...(await assembleServeFeatures(flags, resolved, { source, log, layout })), source }));
    closers.push(() => server.close());
    served = { source, server };
  } catch (err) {
    await closers.unwind();
    throw err;
  }
  const { source, server } = served;
  const watchNote = source.watchMode.kind === 'poll' ? `polling every ${source.watchMode.pollMs} ms` : 'watching for changes';
  printServing(`${source.description} (${watchNote}${flags.livereload ? ', live reload on' : ''})`, server);
  // Signals first: whatever the opener does (and whoever it tells) may already stop us.
  exitOnSignals(closers, { hangup: false });
  if (flags.open) openBrowser(server.url, log);
}

function openBrowser(url: string, log: Logger): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', (err) => log.warn({ err: err.message }, `could not open a browser; open ${url} yourself`));
  child.unref();
}
