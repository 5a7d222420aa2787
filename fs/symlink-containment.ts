/**
 * Symlink containment: whether a symlink target the server reports may be handed to local programs, and which
 * target they see. A FUSE mount returns a link's target to the kernel, and the kernel resolves it on the client:
 * an absolute target, or one that climbs out of the mount, leads local programs to the client's own files
 * (CVE-2026-47187). sshfs 3.7.6 answers readlink of such a link with EPERM (sshfs.c
 * symlink_target_is_contained); the kernel then fails stat(2) and open(2) through the link with the same error,
 * while lstat(2) still shows the link itself, so it can be seen and removed.
 *
 * The rule here, per link (each link of a chain is judged on its own when the kernel reaches it):
 * - an absolute or empty target escapes;
 * - leading `..` components are resolved against the link's own directory, which is exact: FUSE names a link by
 *   the path of real directories above it. Climbing above the mount root escapes;
 * - a `..` after a name escapes: that name may itself be a link on the server, so where `name/..` lands cannot
 *   be known from the text (sshfs rejects every `..` for this reason; leading ones are the provable case);
 * - a target with no name left (`.`, `..`, `../..`: the link's directory or one above it, the mount root
 *   included) escapes: at the top it is the client's directory above the mount, anywhere else a loop.
 *
 * transform_symlinks (sshfs.c transform_symlink): an absolute target inside the remote root becomes the relative
 * path from the link to it, and is then judged like any other target.
 */

export interface SymlinkPolicy {
  /** contain_symlinks (default) / no_contain_symlinks: escaping targets answer EPERM. */
  readonly contain: boolean;
  /** transform_symlinks: absolute targets inside the remote root become relative. */
  readonly transform: boolean;
  /** The remote root as the server names it (absolute), for transform_symlinks. */
  readonly remoteRoot: string;
}

export type LinkVerdict =
  | { readonly inside: true; readonly target: string }
  | { readonly inside: false; readonly target: string; readonly why: string };

export const DEFAULT_SYMLINK_POLICY: SymlinkPolicy = Object.freeze({ contain: true, transform: false, remoteRoot: '/' });

function components(path: string): string[] {
  return path.split('/').filter((part) => part !== '');
}

/**
 * sshfs's transform_symlink: `target` (absolute, under `remoteRoot`) as a path relative to the directory of the
 * link at `linkPath` (a path from the mount root, '/a/b/link'); anything else unchanged.
 */
export function transformTarget(remoteRoot: string, linkPath: string, target: string): string {
  if (!target.startsWith('/') || !remoteRoot.startsWith('/')) return target;
  const root = components(remoteRoot);
  const rest = components(target);
  if (rest.length < root.length || root.some((part, i) => rest[i] !== part)) return target; // outside the remote root
  rest.splice(0, root.length);
  const link = components(linkPath);
  while (rest.length > 0 && link.length > 0 && rest[0] === link[0]) {
    rest.shift();
    link.shift();
  }
  if (link.length === 0) return target; // the target runs through the link itself: left for containment to refuse
  const parts = [...Array<string>(link.length - 1).fill('..'), ...rest];
  return parts.length === 0 ? '.' : parts.join('/');
}

/** Whether `target`, read from the link at `linkPath` (from the mount root), stays inside the mount. */
export function judgeTarget(linkPath: string, target: string): LinkVerdict {
  const escapes = (why: string): LinkVerdict => ({ inside: false, target, why });
  if (target === '') return escapes('empty target');
  if (target.startsWith('/')) return escapes('absolute target');
  const parts = components(target).filter((part) => part !== '.');
  let depth = components(linkPath).length - 1; // directories between the mount root and the link
  let named = false;
  for (const part of parts) {
    if (part !== '..') {
      named = true;
      continue;
    }
    if (named) return escapes("'..' after a name, which may itself be a link on the server");
    depth -= 1;
    if (depth < 0) return escapes('climbs above the mount root');
  }
  if (!named) return escapes('names no file: the link\'s own directory or one above it');
  return { inside: true, target };
}

/** What readlink answers for a link: the target to show, or why it is refused (EPERM). */
export interface LinkAnswer {
  readonly target: string;
  readonly refused: string | null;
}

/** readlink's answer for the link at `linkPath` whose target on the server is `target`, under `policy`. */
export function answerReadlink(policy: SymlinkPolicy, linkPath: string, target: string): LinkAnswer {
  const shown = policy.transform ? transformTarget(policy.remoteRoot, linkPath, target) : target;
  if (!policy.contain) return { target: shown, refused: null };
  const verdict = judgeTarget(linkPath, shown);
  return { target: shown, refused: verdict.inside ? null : verdict.why };
}
