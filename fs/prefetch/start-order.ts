/**
 * The order in which files are streamed when no reader's position says otherwise (start-up, warm-start.ts; a
 * directory an application moved on to, prefetcher.ts): what an application opens first comes first.
 */
import type { TreeEntry } from '../bulk/index.js';
import type { ListedFile } from '../cache/layer.js';

/**
 * Which files an application opens first, by name: scripts, then their configuration, then what a page links
 * (styles, scripts for the browser), then everything else. Lower is earlier.
 */
const OPENED_FIRST: ReadonlyArray<RegExp> = Object.freeze([
  /\.(php|phtml|inc|module)$|(^|\/)(\.htaccess|\.user\.ini|\.env)$/i,
  /\.(ini|json|ya?ml|xml|conf|neon|twig|tpl|latte|mustache|html?)$/i,
  /\.(css|js|mjs|svg)$/i,
]);

function tierOf(path: string): number {
  const tier = OPENED_FIRST.findIndex((re) => re.test(path));
  return tier < 0 ? OPENED_FIRST.length : tier;
}

/** Scripts and what they include or read first (*.php, .htaccess, .user.ini, .env): opened one after another. */
export function isOpenedFirst(path: string): boolean {
  return tierOf(path) === 0;
}

function depthOf(path: string): number {
  let depth = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) depth += 1;
  return depth;
}

/**
 * The start-up stream's files in the order an application will want them: learned ones (paths relative to
 * the root, in their learned order) first, then by tier, depth and path; cut at `maxBytes`. `skip` leaves out
 * files already in memory.
 */
export function inStartOrder(files: readonly ListedFile[], learned: readonly string[], maxBytes: number, skip: (rel: string) => boolean): TreeEntry[] {
  const rank = new Map(learned.map((path, i) => [path, i]));
  const keyed = files.filter((f) => !skip(f.path)).map((f) => ({ f, learned: rank.get(f.path) ?? Number.POSITIVE_INFINITY, tier: tierOf(f.path), depth: depthOf(f.path) }));
  keyed.sort((a, b) => (a.learned - b.learned) || (a.tier - b.tier) || (a.depth - b.depth) || (a.f.path < b.f.path ? -1 : a.f.path > b.f.path ? 1 : 0));
  const chosen: TreeEntry[] = [];
  let bytes = 0;
  for (const { f } of keyed) {
    if (bytes + f.size > maxBytes) continue; // a smaller file further on may still fit
    chosen.push({ path: f.path, type: 'file', mode: 0, size: f.size, mtimeMs: f.mtimeMs, uid: 0, gid: 0 });
    bytes += f.size;
  }
  return chosen;
}
