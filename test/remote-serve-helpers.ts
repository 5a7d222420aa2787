/**
 * Helpers of the remote-serve tests: open the real mount stack against the harness sshd (directly or
 * through a delay proxy), start the remote dev server over it, and read live-reload events like a browser.
 */
import { request } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { parseOptionList } from '../cli/mount-options.js';
import { openMountStackParts, type MountStackParts } from '../cli/mount-stack.js';
import type { RemoteWatchSetting } from '../cli/mount-options.js';
import { startRemoteServe, type RemoteServe } from '../cli/remote-serve.js';
import type { Sshd } from './harness/sshd.js';

export const silentLog = pino({ level: 'silent' });

/** A small site on the server: index.html ("v1"), docs/a.txt ("alpha"), docs/b.txt ("beta"). */
export async function makeSmallSite(sshd: Sshd, name: string): Promise<string> {
  const site = join(sshd.root, name);
  await mkdir(join(site, 'docs'), { recursive: true });
  await writeFile(join(site, 'index.html'), '<html><body><h1>v1</h1></body></html>');
  await writeFile(join(site, 'docs', 'a.txt'), 'alpha');
  await writeFile(join(site, 'docs', 'b.txt'), 'beta');
  return site;
}

/** Options in the mount spellings; `port` overrides the sshd port (a proxy in front of it). */
export async function openStack(sshd: Sshd, site: string, extra: readonly string[] = [], port = sshd.port): Promise<MountStackParts> {
  let knownHosts = sshd.knownHostsPath;
  if (port !== sshd.port) {
    knownHosts = join(site, '..', `known_hosts_${port}`);
    await writeFile(knownHosts, `[127.0.0.1]:${port} ${sshd.hostPublicKey}\n`);
  }
  // The disk cache goes with the server's scratch directory (removed by sshd.stop()), never the user's.
  const options = parseOptionList([`Port=${port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${knownHosts}`, `cache_dir=${join(sshd.dir, 'disk-cache')}`, ...extra]);
  return openMountStackParts({ user: sshd.user, host: '127.0.0.1', path: site }, options, { password: undefined, prompter: undefined, log: silentLog, profile: 'serve' });
}

export async function serveStack(parts: MountStackParts, watch: RemoteWatchSetting, requestTimeoutMs = 5000, localRoot?: string): Promise<RemoteServe> {
  return startRemoteServe(parts.vfs, parts.remote, {
    description: 'harness:/site',
    remoteWatch: watch,
    remotePollMs: 300,
    requestTimeoutMs,
    log: silentLog,
    clock: parts.clock,
    ...(localRoot !== undefined ? { localRoot } : {}),
    server: () => ({ logger: silentLog, port: 0, strictPort: true }),
  });
}

export interface Got {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path}: no answer in 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

/** A live-reload client: the SSE stream of /__devmount/livereload, with the arrival time of each event. */
export interface ReloadClient {
  readonly events: Array<{ name: string; at: number }>;
  /** Resolves with the arrival time of the first event named `name` after `since` (bounded wait). */
  next(name: string, since: number, timeoutMs?: number): Promise<number>;
  close(): void;
}

export function openReloadClient(port: number): Promise<ReloadClient> {
  return new Promise((resolve, reject) => {
    const events: Array<{ name: string; at: number }> = [];
    const req = request({ host: '127.0.0.1', port, path: '/__devmount/livereload', headers: { Accept: 'text/event-stream' }, agent: false }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          if (name) events.push({ name, at: Date.now() });
        }
      });
      res.on('error', () => undefined); // closed by close() below: nothing to report
      resolve({
        events,
        async next(name, since, timeoutMs = 8000) {
          const deadline = Date.now() + timeoutMs;
          for (;;) {
            const hit = events.find((e) => e.name === name && e.at >= since);
            if (hit) return hit.at;
            if (Date.now() > deadline) throw new Error(`no "${name}" event within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A remote dev server over its own mount stack; close() stops the server, then the VFS under it. */
export interface ServedRemote {
  readonly served: RemoteServe;
  readonly parts: MountStackParts;
  close(): Promise<void>;
}

/** openStack + serveStack, the VFS closed again if the server does not start. */
export async function serveRemote(sshd: Sshd, site: string, watch: RemoteWatchSetting,
  options: { extra?: readonly string[]; port?: number; requestTimeoutMs?: number } = {}): Promise<ServedRemote> {
  const parts = await openStack(sshd, site, options.extra, options.port);
  await parts.warm; // the start-up listing and stream, so what is cached when a test begins does not depend on timing
  let served: RemoteServe;
  try {
    served = await serveStack(parts, watch, options.requestTimeoutMs);
  } catch (err) {
    await parts.vfs.close();
    throw err;
  }
  return {
    served,
    parts,
    close: async () => {
      await served.close();
      await parts.vfs.close();
    },
  };
}
