/**
 * A DokuWiki site tree from the Debian `dokuwiki` package in upstream's layout, for the application tests:
 * /usr/share/dokuwiki (code; lib/plugins and lib/tpl resolved from their /var/lib links), conf/ from
 * /etc/dokuwiki, data/ from /var/lib/dokuwiki/data, all copied into one writable temp root with conf/ and data/
 * inside it, as an upstream tarball unpacks (Debian's inc/preload.php, which points at /etc/dokuwiki, is
 * replaced). The stock .htaccess files come along: the root's (with `RedirectMatch 404 /\.git`), data/'s,
 * inc/'s…; conf/.htaccess, which upstream ships and Debian does not need, is written with upstream's text.
 */
import { access, chmod, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const DOKUWIKI_DIR = '/usr/share/dokuwiki';
const DOKUWIKI_CONF = '/etc/dokuwiki';
const DOKUWIKI_DATA = '/var/lib/dokuwiki/data';

export async function dokuwikiAvailable(): Promise<boolean> {
  return access(path.join(DOKUWIKI_DIR, 'doku.php')).then(() => access(DOKUWIKI_CONF)).then(() => access(DOKUWIKI_DATA))
    .then(() => true, () => false);
}

/** upstream's conf/.htaccess (and data/.htaccess): no web access at all. */
const DENY_ALL = `<IfModule mod_authz_core.c>
    Require all denied
</IfModule>
<IfModule !mod_authz_core.c>
    Order allow,deny
    Deny from all
</IfModule>
`;

export interface DokuWikiSite {
  readonly root: string;
  close(): Promise<void>;
}

/** Copies DokuWiki into a fresh temp dir: no ACL (anyone may edit), data/ under the root, plain URLs. */
export async function createDokuWikiSite(): Promise<DokuWikiSite> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-dokuwiki-'));
  await chmod(base, 0o755);
  const root = path.join(base, 'site');
  const preload = path.join(DOKUWIKI_DIR, 'inc/preload.php');
  await cp(DOKUWIKI_DIR, root, { recursive: true, dereference: true, filter: (source) => source !== preload });
  await cp(DOKUWIKI_CONF, path.join(root, 'conf'), { recursive: true, dereference: true });
  await cp(DOKUWIKI_DATA, path.join(root, 'data'), { recursive: true, dereference: true });
  await writeFile(path.join(root, 'inc/preload.php'), "<?php\nif (!defined('DOKU_CONF')) define('DOKU_CONF', dirname(__DIR__) . '/conf/');\n");
  await writeFile(path.join(root, 'conf/.htaccess'), DENY_ALL);
  await writeFile(path.join(root, 'conf/local.php'), [
    '<?php',
    "$conf['title'] = 'devmount DokuWiki';",
    "$conf['savedir'] = DOKU_INC . 'data';",
    "$conf['useacl'] = 0;",
    "$conf['userewrite'] = 0;",
    // No update messages or plugin repository from dokuwiki.org: the tests stay on loopback.
    "$conf['updatecheck'] = 0;",
    "$conf['dnslookups'] = 0;",
    '',
  ].join('\n'));
  return {
    root,
    async close(): Promise<void> {
      await rm(base, { recursive: true, force: true });
    },
  };
}
