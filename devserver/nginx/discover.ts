/**
 * Finds the nginx server block that serves a directory: on a server over SSH from `nginx -T` (the complete
 * configuration nginx itself would load, every included file marked by a "# configuration file PATH:" line),
 * else from the files under sites-enabled/ and conf.d/ (Debian's and the upstream package's include lines) read
 * with cat; locally from a file the user names. Includes resolve against the configuration prefix
 * (/etc/nginx by default), as nginx resolves them against its conf prefix.
 */
import { readdir, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { shellQuote } from '../../fs/shell-quote.js';
import { loadNginxConfig, type ConfigReader, type ConfigWarning, type Directive } from './parser.js';
import { compileServer, enclosingHttp, rootOf, serverBlocks, type ServerConfig, type Warn } from './server-config.js';

export const DEFAULT_CONFIG_ROOT = '/etc/nginx';

/** Runs a command on the server (the SFTP layer's exec channel); rejects when the server runs no commands. */
export interface ServerShell {
  exec(command: string): Promise<{ readonly code: number | null; readonly stdout: Buffer; readonly stderr: Buffer }>;
}

/** Reads any file of the server over SFTP (a session rooted at '/'), for servers that run no commands. */
export type OpenSftpReader = () => Promise<ConfigReader & { close(): Promise<void> }>;

export interface FoundServer {
  readonly server: ServerConfig;
  /** The server block itself (its server_name and listen: devserver/server-site-url.ts). */
  readonly block: Directive;
  /** How the configuration was read: 'nginx -T', 'sites-enabled/ and conf.d/', or the file named. */
  readonly via: string;
}

/** Reads local files (--nginx-config). */
export const localReader: ConfigReader = {
  readFile: (path) => readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EISDIR') return null;
    throw err;
  }),
  readdir: (path) => readdir(path).catch(() => []),
};

/** The files of an `nginx -T` dump, by path. */
export function splitNginxDump(dump: string): Map<string, string> {
  const files = new Map<string, string>();
  const marker = /^# configuration file (.+):$/gm;
  const marks = [...dump.matchAll(marker)];
  marks.forEach((m, i) => {
    const start = (m.index ?? 0) + m[0].length + 1;
    const end = marks[i + 1]?.index ?? dump.length;
    files.set(m[1] ?? '', dump.slice(start, end));
  });
  return files;
}

function mapReader(files: ReadonlyMap<string, string>): ConfigReader {
  return {
    readFile: async (path) => files.get(path) ?? null,
    readdir: async (dir) => [...files.keys()].filter((p) => posix.dirname(p) === dir).map((p) => posix.basename(p)),
  };
}

/** cat/ls over the shell, for a server whose nginx cannot be run (not on PATH, or -T needs root there). */
function shellReader(shell: ServerShell): ConfigReader {
  return {
    readFile: async (path) => {
      const r = await shell.exec(`cat -- ${shellQuote(path)}`);
      return r.code === 0 ? r.stdout.toString('utf8') : null;
    },
    readdir: async (dir) => {
      const r = await shell.exec(`ls -1A -- ${shellQuote(dir)}`);
      return r.code === 0 ? r.stdout.toString('utf8').split('\n').filter((n) => n !== '') : [];
    },
  };
}

/** A reader that also answers for one made-up main file (the fallback's include lines). */
function withMain(reader: ConfigReader, main: string, text: string): ConfigReader {
  return { readFile: async (path) => (path === main ? text : reader.readFile(path)), readdir: (dir) => reader.readdir(dir) };
}

function normaliseRoot(path: string): string {
  return posix.normalize(path).replace(/(.)\/+$/, '$1');
}

/** The server block whose `root` is `root`; null when none is. */
function pick(directives: readonly Directive[], root: string): Directive | null {
  const wanted = normaliseRoot(root);
  return serverBlocks(directives).find((s) => {
    const r = rootOf(s);
    return r !== null && normaliseRoot(r) === wanted;
  }) ?? null;
}

function warnOnce(warn: Warn): Warn {
  const seen = new Set<string>();
  return (w) => {
    const key = `${w.file}\0${w.line}\0${w.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    warn(w);
  };
}

/** Reports the include problems of loading as warnings. */
const asWarn = (warn: Warn) => (w: ConfigWarning): void => warn({ ...w, level: 'warn' });

/**
 * The server block of `remoteRoot` in the server's configuration under `configRoot`; null when the server has no
 * nginx configuration for it (or runs no commands).
 */
export async function discoverServerConfig(shell: ServerShell, openSftp: OpenSftpReader, remoteRoot: string, configRoot: string, rawWarn: Warn): Promise<FoundServer | null> {
  const warn = warnOnce(rawWarn);
  const main = posix.join(configRoot, 'nginx.conf');
  const dumped = await shell.exec(`PATH="$PATH:/usr/sbin:/sbin" nginx -T -q -c ${shellQuote(main)} 2>/dev/null`).catch(() => null);
  if (dumped === null) {
    // No commands on this server (ForceCommand internal-sftp): the same files, read over SFTP.
    const sftp = await openSftp();
    try {
      return await fromSiteFiles(sftp, remoteRoot, configRoot, warn, `${configRoot}/sites-enabled/ and conf.d/ over SFTP`);
    } finally {
      await sftp.close();
    }
  }
  if (dumped.code === 0) {
    const files = splitNginxDump(dumped.stdout.toString('utf8'));
    if (files.has(main)) {
      const directives = await loadNginxConfig(main, configRoot, mapReader(files), asWarn(warn));
      const chosen = pick(directives, remoteRoot);
      return chosen === null ? null : { server: compileServer(chosen, warn, enclosingHttp(directives, chosen)), block: chosen, via: 'nginx -T' };
    }
  }
  return fromSiteFiles(shellReader(shell), remoteRoot, configRoot, warn, `${configRoot}/sites-enabled/ and conf.d/`);
}

/** The files Debian's and the upstream nginx.conf include: sites-enabled/* and conf.d/*.conf. */
async function fromSiteFiles(files: ConfigReader, remoteRoot: string, configRoot: string, warn: Warn, via: string): Promise<FoundServer | null> {
  const fallbackMain = posix.join(configRoot, '(sites-enabled and conf.d)');
  const reader = withMain(files, fallbackMain, 'include sites-enabled/*;\ninclude conf.d/*.conf;\n');
  const chosen = pick(await loadNginxConfig(fallbackMain, configRoot, reader, asWarn(warn)), remoteRoot);
  return chosen === null ? null : { server: compileServer(chosen, warn), block: chosen, via };
}

export class ServerConfigChoiceError extends Error {}

/**
 * The server block of a local file (--nginx-config): its only one, or the one whose root is `localRoot`.
 * Throws NginxSyntaxError for a bad file, ServerConfigChoiceError when no block can be chosen.
 */
export async function loadLocalServerConfig(file: string, configRoot: string, localRoot: string, rawWarn: Warn): Promise<FoundServer> {
  const warn = warnOnce(rawWarn);
  const directives = await loadNginxConfig(file, configRoot, localReader, asWarn(warn));
  const blocks = serverBlocks(directives);
  const chosen = blocks.length === 1 ? blocks[0] ?? null : pick(directives, localRoot);
  if (chosen === null) {
    throw new ServerConfigChoiceError(blocks.length === 0
      ? `${file} has no server { … } block`
      : `${file} has ${blocks.length} server blocks and none has root ${localRoot}: keep only the site's block in the file`);
  }
  return { server: compileServer(chosen, warn, enclosingHttp(directives, chosen)), block: chosen, via: file };
}
