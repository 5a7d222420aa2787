/**
 * A real dev server (createDevServer) with the PHP/CGI/.htaccess/proxy wiring of `devmount serve`
 * (cli/commands/serve-php.ts) over a temporary site, with the log captured as JSON objects.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createDevServer, type DevServer } from '../../devserver/server.js';
import { LocalFileSource } from '../../devserver/sources/local.js';
import { resolveHooks } from '../../cli/commands/serve-features.js';
import type { ServeFlags } from '../../cli/commands/serve-flags.js';
import { parseSiteUrl } from '../../devserver/site-url.js';

export type SiteFiles = Record<string, string | { readonly content: string; readonly mode: number }>;

export async function writeSite(root: string, files: SiteFiles): Promise<void> {
  for (const [name, spec] of Object.entries(files)) {
    const file = path.join(root, name);
    await mkdir(path.dirname(file), { recursive: true });
    if (name.endsWith('/')) continue;
    await writeFile(file, typeof spec === 'string' ? spec : spec.content);
    if (typeof spec !== 'string') await chmod(file, spec.mode);
  }
}

export interface PhpSite {
  readonly root: string;
  readonly origin: string;
  readonly port: number;
  readonly server: DevServer;
  /** Every log line so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface PhpSiteOptions {
  readonly phpWorkers?: number;
  readonly phpTimeoutSeconds?: number;
  readonly proxy?: readonly string[];
  readonly cgi?: readonly string[];
  /** --no-htaccess when false. */
  readonly htaccess?: boolean;
  /** --php-ini KEY=VALUE settings. */
  readonly phpIni?: readonly string[];
  /** Live reload on (off by default here). */
  readonly liveReload?: boolean;
  /** --site-url: the production URL shown to the application. */
  readonly siteUrl?: string;
  /** Serve this existing directory (left in place on close) instead of a fresh one holding `files`. */
  readonly root?: string;
  /** Further `devmount serve` flags, as commander gives them (frontController: '/index.php', …). */
  readonly flags?: Readonly<Record<string, unknown>>;
}

export async function startPhpSite(files: SiteFiles, options: PhpSiteOptions = {}): Promise<PhpSite> {
  if (options.root !== undefined) {
    await mkdir(options.root, { recursive: true });
    await writeSite(options.root, files);
    return servePhpRoot(options.root, options);
  }
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-php-'));
  const root = path.join(base, 'site');
  await mkdir(root, { recursive: true });
  await writeSite(root, files);
  const site = await servePhpRoot(root, options);
  return {
    ...site,
    async close() {
      await site.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** `devmount serve ROOT` with PHP on over an existing directory (left in place by close()). */
export async function servePhpRoot(root: string, options: PhpSiteOptions = {}): Promise<PhpSite> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const log = pino({ level: 'debug', base: undefined }, sink);
  const source = await LocalFileSource.open(root, { watch: 'auto' });
  const flags = {
    host: '127.0.0.1', listing: true, header: [], livereload: false, allowedHost: [], logFormat: 'json',
    php: true, phpWorkers: String(options.phpWorkers ?? 2), phpTimeout: String(options.phpTimeoutSeconds ?? 20),
    cgi: [...(options.cgi ?? [])], proxy: [...(options.proxy ?? [])], htaccess: options.htaccess ?? true,
    phpIni: [...(options.phpIni ?? [])],
    ...options.flags,
  } as unknown as ServeFlags;
  const extra = await resolveHooks(flags, { source, log });
  let server: DevServer;
  try {
    server = await createDevServer({ ...extra, source, logger: log, port: 0, liveReload: options.liveReload ?? false, cache: false,
      ...(options.siteUrl !== undefined ? { siteUrl: parseSiteUrl(options.siteUrl) } : {}) });
  } catch (err) {
    await Promise.allSettled((extra.closers ?? []).map(async (c) => c()));
    await source.close();
    throw err;
  }
  return {
    root, port: server.port, origin: `http://127.0.0.1:${server.port}`, server, logs,
    close: () => server.close(),
  };
}
