/**
 * What a mount stack does right after it connects, in the background, so the first page of an application is
 * not paid for one round trip per file (PHP opens its includes one after the other: WordPress opens ~440 files
 * for its front page, 65–185 ms each over a 20 ms link when each is an OPEN and a READ).
 *
 *   1. list: one bulk listing of the whole tree (`find -printf`, fs/bulk), so every lookup is answered locally;
 *   2. disk: the persistent cache (fs/cache/disk) drops the files the listing shows changed, and loads the
 *      others into memory — a second start of the same site reads nothing over the network;
 *   3. stream: one `tar -c` stream of the files neither in memory nor valid on disk (on a start the disk cache made
 *      warm, only those it held and scripts: startStreamFilter), those an application opens first coming first:
 *      the files the disk cache held from earlier runs (in their order of use there; those still valid were
 *      loaded from disk, so these are the ones changed since), then scripts and their
 *      configuration (*.php, .htaccess, …) shallow ones first, then the rest. Opens that arrive meanwhile go on
 *      in parallel: they wait for the stream only for a file about to arrive (options.maxWaitAheadBytes).
 *
 * Every phase may fail on its own (no shell on the server, an unreadable cache directory): the mount works as
 * without it, a log line says why.
 */
import type { DiskCacheControl } from '../cache/disk/disk-cached-remote-fs.js';
import type { Prefetcher } from './prefetcher.js';
import { inStartOrder, isOpenedFirst } from './start-order.js';

export interface WarmStartLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WarmStartOptions {
  /** Stream file contents after the listing (serve: yes; a plain mount: only what the disk cache holds). */
  readonly stream: boolean;
  /** Bytes the start-up stream may bring. */
  readonly contentBytes: number;
  /**
   * Bytes the disk cache loads into memory at start; the rest is read from disk when opened (a local read, no
   * round trip). Loading ahead competes with the first page for the disk and the CPU.
   */
  readonly preloadBytes: number;
}

export interface WarmStartReport {
  readonly listed: boolean;
  readonly fromDisk: { readonly valid: number; readonly dropped: number; readonly loaded: number } | null;
  readonly streamed: { readonly files: number; readonly bytes: number } | null;
  readonly ms: number;
}

export interface WarmStartInputs {
  readonly prefetcher: Prefetcher;
  readonly disk: DiskCacheControl | null;
  /** Whether the content of `path` (a mount-root path) is here already: in memory, or valid on disk. */
  readonly isLocal: (path: string) => boolean;
  readonly log: WarmStartLogger;
  /** Told when each phase ends ('listed', 'diskReconciled', 'streamStarted'): a start's timeline. */
  readonly onPhase?: (phase: string) => void;
}

/**
 * Which listed files the start-up stream may carry. A first start: all of them. A start the disk cache made
 * warm: what it held before (the files among them not valid now changed since) and the scripts an application
 * opens one after another; styles, images and the like are fetched when asked for — a browser asks for them in
 * parallel, so one round trip each does not add up. Streaming them too (22 MB of WordPress's files past the first
 * start's budget) made a second start's first page slower: the stream and the disk writes it causes compete with
 * the page's PHP for the CPU.
 */
function startStreamFilter(learned: readonly string[], warm: boolean): (rel: string) => boolean {
  if (!warm) return () => true;
  const held = new Set(learned);
  return (rel) => held.has(rel) || isOpenedFirst(rel);
}

/** Runs the three phases; never rejects. */
export async function warmStart(inputs: WarmStartInputs, options: WarmStartOptions): Promise<WarmStartReport> {
  const began = performance.now();
  const { prefetcher, disk, log } = inputs;
  const onPhase = inputs.onPhase ?? (() => undefined);
  let listed = false;
  let fromDisk: WarmStartReport['fromDisk'] = null;
  let streamed: WarmStartReport['streamed'] = null;
  try {
    listed = await prefetcher.listNow('/');
    onPhase('listed');
    if (listed && disk) fromDisk = await disk.reconcile(options.preloadBytes);
    onPhase('diskReconciled');
    if (listed && options.stream) {
      const learned = (disk?.learnedOrder ?? []).map((p) => p.slice(1));
      const worthStreaming = startStreamFilter(learned, (fromDisk?.valid ?? 0) > 0);
      streamed = prefetcher.streamNow('/', options.contentBytes, (files, maxBytes) => inStartOrder(files.filter((f) => worthStreaming(f.path)), learned, maxBytes, (rel) => inputs.isLocal(`/${rel}`)));
    }
    onPhase('streamStarted');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'start-up prefetch failed; files are fetched as they are opened');
  } finally {
    prefetcher.releaseContent();
  }
  const report: WarmStartReport = Object.freeze({ listed, fromDisk, streamed, ms: Math.round(performance.now() - began) });
  log.info({ ...report }, 'start-up prefetch');
  return report;
}
