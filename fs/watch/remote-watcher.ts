/**
 * Detects changes made on the server by anyone else (an scp, a `git pull` on the server, a CMS upload), so
 * caches and live reload see them. Nobody among the peers does this (sshfs#155, rclone#4380).
 *
 * Three strategies, chosen once at start (the cheapest that works on this server):
 *   inotify  — `inotifywait -m -r` over an exec channel: events as they happen.
 *   find     — a server-side shell loop running `find ROOT -newermt @T` every interval: one exec channel,
 *              no round trip per poll; the server's own clock sets T, so client clock skew does not matter.
 *   sftp-poll — servers that allow only SFTP (ForceCommand internal-sftp): re-list the directories the user
 *              has looked at (track()) and compare sizes and mtimes.
 * A stream that ends (connection drop) is restarted with backoff, and a change of the root is reported then,
 * since events may have been missed while it was down.
 */
import type { ClientChannel } from 'ssh2';
import { childOf } from '../paths.js';
import type { ExecResult } from '../ssh/types.js';
import type { ChangeEvent, ChangeKind, DirEntry } from '../types.js';
import { NulRecordSplitter } from './nul-records.js';
import { shellQuote } from '../shell-quote.js';

export type WatchMethod = 'inotify' | 'find' | 'sftp-poll';

/** What the watcher needs from the connection: exec for the shell strategies, readdir for polling. */
export interface WatchTransport {
  exec(command: string): Promise<ExecResult>;
  execStream(command: string): Promise<ClientChannel>;
  readdir(path: string): Promise<DirEntry[]>;
}

export interface RemoteWatcherOptions {
  /** The remote directory as the server names it (absolute, or relative to the login directory). */
  readonly remoteRoot: string;
  /** Poll interval for the find and sftp-poll strategies. */
  readonly intervalMs: number;
  /** Force a strategy (tests, or a user who knows the server). */
  readonly method?: WatchMethod;
  /** How long changes are gathered before one batch is delivered. */
  readonly batchMs: number;
  /** Upper bound on directories re-listed per sftp-poll round, so a huge tree cannot saturate the link. */
  readonly maxPolledDirs: number;
}

export const REMOTE_WATCHER_DEFAULTS = Object.freeze({ intervalMs: 1000, batchMs: 50, maxPolledDirs: 200 });

export interface RemoteWatcher {
  readonly method: WatchMethod;
  /**
   * sftp-poll: add a directory (mount-relative) to the polled set; the other strategies watch everything.
   * `seen` is the listing the caller already holds (and caches): changes are reported relative to it, so an
   * edit made between that listing and the first poll is not taken as the baseline and lost.
   */
  track(dirPath: string, seen?: readonly DirEntry[]): void;
  /**
   * True while every change anywhere in the tree is being reported: a shell strategy whose stream is up, ready
   * and not silent past its heartbeat. sftp-poll never is (it re-lists only the directories tracked), so
   * caches keep their TTLs then (fs/cache/watched-clock.ts).
   */
  healthy(): boolean;
  /** Called with each change of healthy(); returns the unsubscriber. */
  onHealth(listener: (healthy: boolean) => void): () => void;
  close(): Promise<void>;
}

type Listener = (changes: readonly ChangeEvent[]) => void;

/** The find loop's first record: its start timestamp is taken, so any later edit will be reported. */
const FIND_READY = 'READY';
/** Written every round by the server-side scripts; its failure tells them we are gone (remoteScript). */
const HEARTBEAT = 'TICK';
const HEARTBEAT_S = 2;
const FIND_SEEN_MAX = 100_000;
const RESTART_BACKOFF_MS = Object.freeze({ first: 500, max: 10_000 });
const READY_TIMEOUT_MS = 10_000;

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Picks the strategy: inotifywait if the server has it, else GNU find, else SFTP polling. */
export async function detectWatchMethod(transport: WatchTransport): Promise<WatchMethod> {
  let probe: ExecResult;
  try {
    probe = await transport.exec(
      'if command -v inotifywait >/dev/null 2>&1; then echo inotify; '
      + "elif find / -maxdepth 0 -newermt @0 -printf '' >/dev/null 2>&1; then echo find; else echo none; fi",
    );
  } catch {
    return 'sftp-poll'; // exec refused: an SFTP-only account
  }
  const answer = probe.stdout.toString().trim();
  // ForceCommand internal-sftp accepts the channel but runs no shell: a non-zero status, and no such word. A
  // missing status (null) alone is not that: on a busy connection (a tar stream beside it) the channel was seen
  // to close with its whole output but without the exit-status message; the word printed is proof enough.
  if (probe.code !== 0 && probe.code !== null) return 'sftp-poll';
  return answer === 'inotify' ? 'inotify' : answer === 'find' ? 'find' : 'sftp-poll';
}

export async function startRemoteWatcher(
  transport: WatchTransport,
  options: Partial<RemoteWatcherOptions> & Pick<RemoteWatcherOptions, 'remoteRoot'>,
  listener: Listener,
): Promise<RemoteWatcher> {
  const opts: RemoteWatcherOptions = Object.freeze({ ...REMOTE_WATCHER_DEFAULTS, ...options });
  const method = opts.method ?? (await detectWatchMethod(transport));
  const batcher = new ChangeBatcher(opts.batchMs, listener);
  if (method === 'sftp-poll') return startSftpPolling(transport, opts, batcher);
  const absRoot = await resolveRoot(transport, opts.remoteRoot);
  const command = method === 'inotify' ? inotifyCommand(absRoot) : findLoopCommand(absRoot, opts.intervalMs);
  // Silent for three heartbeats (the find loop's come once per round): the stream is not delivering.
  const silenceMs = 3 * Math.max(HEARTBEAT_S * 1000, method === 'find' ? opts.intervalMs : 0) + 2000;
  const { firstStart, watcher } = startStreamWatcher(transport, method, command, absRoot, batcher, silenceMs);
  await withTimeout(firstStart, READY_TIMEOUT_MS); // a huge tree may take long to watch: go on, events follow
  return watcher;
}

async function resolveRoot(transport: WatchTransport, remoteRoot: string): Promise<string> {
  const result = await transport.exec(`cd -- ${shellQuote(remoteRoot || '.')} && pwd -P`);
  const path = result.stdout.toString().replace(/\n$/, '');
  // pwd runs only once cd succeeded, so a path printed is the answer even when the exit status went missing
  // (see detectWatchMethod).
  if ((result.code !== 0 && result.code !== null) || !path.startsWith('/')) throw new Error(`cannot resolve remote directory ${remoteRoot}`);
  return path;
}

/**
 * Runs `script` in the server's sh. Without a pty, sshd sends no SIGHUP when the channel closes, so a
 * watcher that has nothing to say would outlive us on the server for ever. Every script therefore writes a
 * HEARTBEAT record every round and stops when that write fails (the channel is gone). SIGPIPE is ignored so
 * the failure is an error we can act on (kill inotifywait) rather than a silent death of the shell alone.
 */
function remoteScript(script: string): string {
  return `exec sh -c ${shellQuote(`trap "" PIPE\n${script}`)}`;
}

/** inotifywait(1): NUL-terminated `EVENTS|PATH` records (names may contain newlines). */
function inotifyCommand(absRoot: string): string {
  return remoteScript([
    `inotifywait -m -r --no-newline --format '%e|%w%f%0' -e modify,close_write,create,delete,move,attrib -- ${shellQuote(absRoot)} &`,
    'w=$!',
    `while sleep ${HEARTBEAT_S}; do printf '${HEARTBEAT}\\0' || break; kill -0 $w 2>/dev/null || break; done`,
    'kill $w 2>/dev/null',
  ].join('\n'));
}

/**
 * A find loop on the server: `find -newermt @T` each round, T taken from the server's clock before the
 * round, so anything changed during a find is caught by the next one. A directory whose mtime moved stands
 * for deletions and renames inside it. Records: `TYPE MTIME PATH\0`.
 * T is moved back by FIND_CLOCK_MARGIN_S: file times come from the kernel's coarse clock, which lags
 * `date` by up to a jiffy, so a write just after T can carry an mtime just before it. The client drops the
 * repeats this causes (same path, same mtime).
 */
function findLoopCommand(absRoot: string, intervalMs: number): string {
  const seconds = Math.max(0.2, intervalMs / 1000).toFixed(1);
  const stamp = `$(date +%s.%N | awk '{printf "%.3f", $1 - ${FIND_CLOCK_MARGIN_S}}')`;
  return remoteScript([
    `t=${stamp}`,
    `printf '${FIND_READY}\\0' || exit 0`,
    `while sleep ${seconds}; do`,
    `  n=${stamp}`,
    `  find ${shellQuote(absRoot)} -newermt "@$t" -printf '%y %T@ %p\\0' 2>/dev/null`,
    `  printf '${HEARTBEAT}\\0' || exit 0`,
    '  t=$n',
    'done',
  ].join('\n'));
}

const FIND_CLOCK_MARGIN_S = 0.1;

function toRelative(absRoot: string, absPath: string): string | null {
  if (absPath === absRoot) return '/';
  if (!absPath.startsWith(`${absRoot}/`)) return null;
  return absPath.slice(absRoot.length);
}

function inotifyKind(events: string): ChangeKind {
  if (/DELETE|MOVED_FROM/.test(events)) return 'delete';
  if (/CREATE|MOVED_TO/.test(events)) return 'create';
  if (/ATTRIB/.test(events) && !/MODIFY|CLOSE_WRITE/.test(events)) return 'attr';
  return 'modify';
}

function startStreamWatcher(
  transport: WatchTransport,
  method: 'inotify' | 'find',
  command: string,
  absRoot: string,
  batcher: ChangeBatcher,
  silenceMs: number,
): { firstStart: Promise<void>; watcher: RemoteWatcher } {
  let closed = false;
  const health = new HealthState();
  let streamReady = false;
  let lastDataAt = performance.now();
  const updateHealth = (): void => {
    health.set(!closed && channel !== null && streamReady && performance.now() - lastDataAt < silenceMs);
  };
  const silenceCheck = setInterval(updateHealth, Math.max(500, silenceMs / 3));
  silenceCheck.unref();
  let channel: ClientChannel | null = null;
  let backoff: number = RESTART_BACKOFF_MS.first;
  let restartTimer: NodeJS.Timeout | null = null;
  let everStarted = false;
  /** find strategy: last reported mtime per path, to drop the overlap caused by the clock margin. */
  const findSeen = new Map<string, string>();

  const parse = (record: string): ChangeEvent | null => {
    if (record === HEARTBEAT) return null;
    if (method === 'inotify') {
      const bar = record.indexOf('|');
      const rel = toRelative(absRoot, record.slice(bar + 1));
      return rel === null ? null : { path: rel, kind: inotifyKind(record.slice(0, bar)), origin: 'remote' };
    }
    if (record === FIND_READY) return null;
    const space = record.indexOf(' ', 2);
    const mtime = record.slice(2, space);
    const rel = toRelative(absRoot, record.slice(space + 1));
    if (rel === null || findSeen.get(rel) === mtime) return null;
    if (findSeen.size >= FIND_SEEN_MAX) findSeen.clear(); // a repeat costs one extra invalidation, no more
    findSeen.set(rel, mtime);
    // A directory whose mtime moved: something inside was created, removed or renamed.
    return { path: rel, kind: record[0] === 'd' ? 'unknown' : 'modify', origin: 'remote' };
  };

  const start = async (): Promise<void> => {
    if (closed) return;
    try {
      const ch = await transport.execStream(command);
      if (closed) {
        ch.close();
        return;
      }
      channel = ch;
      if (everStarted) batcher.add({ path: '/', kind: 'unknown', origin: 'remote' }); // events may have been missed
      everStarted = true;
      // Ready means an edit from now on is guaranteed to be seen: inotifywait prints "Watches established."
      // on stderr once every directory is watched; the find loop sends FIND_READY after its first timestamp.
      let resolveReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => {
        resolveReady = resolve;
        ch.once('close', () => resolve());
      });
      const markReady = (): void => {
        streamReady = true;
        lastDataAt = performance.now();
        updateHealth();
        resolveReady();
      };
      const splitter = new NulRecordSplitter();
      ch.on('data', (chunk: Buffer) => {
        backoff = RESTART_BACKOFF_MS.first;
        lastDataAt = performance.now();
        for (const record of splitter.push(chunk)) {
          if (record === FIND_READY) markReady();
          const event = parse(record);
          if (event) batcher.add(event);
        }
      });
      let banner = '';
      ch.stderr.on('data', (d: Buffer) => {
        banner = (banner + d.toString()).slice(-200);
        if (banner.includes('Watches established')) markReady();
      });
      ch.on('close', () => {
        channel = null;
        streamReady = false;
        updateHealth();
        scheduleRestart();
      });
      await ready;
    } catch {
      scheduleRestart(); // connection down: the transport reconnects; try again later
    }
  };

  const scheduleRestart = (): void => {
    if (closed || restartTimer) return;
    restartTimer = setTimeout(() => {
      restartTimer = null;
      void start();
    }, backoff);
    backoff = Math.min(backoff * 2, RESTART_BACKOFF_MS.max);
  };

  const firstStart = start();
  const watcher: RemoteWatcher = {
    method,
    track: () => undefined, // the shell strategies watch the whole tree
    healthy: () => health.value,
    onHealth: (listener) => health.subscribe(listener),
    async close() {
      closed = true;
      clearInterval(silenceCheck);
      health.set(false);
      if (restartTimer) clearTimeout(restartTimer);
      channel?.close();
      batcher.close();
    },
  };
  return { firstStart, watcher };
}

function entrySignature(entries: readonly DirEntry[]): Map<string, string> {
  return new Map(entries.map((e) => [e.name, `${e.attr.mode}:${e.attr.size}:${e.attr.mtimeMs}`]));
}

function startSftpPolling(transport: WatchTransport, opts: RemoteWatcherOptions, batcher: ChangeBatcher): RemoteWatcher {
  // Last seen listing signature per tracked directory; most recently tracked first when over the cap.
  const tracked = new Map<string, Map<string, string> | null>();
  let closed = false;
  let timer: NodeJS.Timeout | null = null;

  const pollOnce = async (): Promise<void> => {
    const dirs = [...tracked.keys()].slice(-opts.maxPolledDirs);
    await Promise.all(dirs.map(async (dir) => {
      let current: Map<string, string>;
      try {
        current = entrySignature(await transport.readdir(dir));
      } catch {
        if (tracked.get(dir) !== null) batcher.add({ path: dir, kind: 'delete', origin: 'remote' });
        tracked.delete(dir);
        return;
      }
      const previous = tracked.get(dir);
      tracked.set(dir, current);
      if (!previous) return; // first listing is the baseline
      for (const [name, sig] of current) {
        const before = previous.get(name);
        if (before === undefined) batcher.add({ path: childOf(dir, name), kind: 'create', origin: 'remote' });
        else if (before !== sig) batcher.add({ path: childOf(dir, name), kind: 'modify', origin: 'remote' });
      }
      for (const name of previous.keys()) {
        if (!current.has(name)) batcher.add({ path: childOf(dir, name), kind: 'delete', origin: 'remote' });
      }
    }));
  };

  const loop = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      pollOnce().finally(loop);
    }, opts.intervalMs);
  };
  tracked.set('/', null);
  void pollOnce().finally(loop);

  return {
    method: 'sftp-poll',
    track(dirPath: string, seen?: readonly DirEntry[]) {
      const known = seen ? entrySignature(seen) : (tracked.get(dirPath) ?? null);
      tracked.delete(dirPath); // re-insert: most recently used last
      tracked.set(dirPath, known);
    },
    healthy: () => false, // only tracked directories are re-listed: changes elsewhere go unseen
    onHealth: () => () => undefined,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      batcher.close();
    },
  };
}

/** A boolean whose changes are reported to subscribers. */
class HealthState {
  value = false;
  private readonly listeners = new Set<(healthy: boolean) => void>();

  set(value: boolean): void {
    if (value === this.value) return;
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }

  subscribe(listener: (healthy: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }
}

/** Gathers events for `batchMs` and delivers them once, de-duplicated by path (a burst → one batch). */
class ChangeBatcher {
  private pending = new Map<string, ChangeEvent>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly batchMs: number, private readonly listener: Listener) {}

  add(event: ChangeEvent): void {
    if (this.closed) return;
    this.pending.set(event.path, event);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.batchMs);
    }
  }

  private flush(): void {
    this.timer = null;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    if (batch.length > 0) this.listener(batch);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
