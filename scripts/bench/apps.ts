/**
 * PHP applications for the remote-serve benchmark, built from the Debian packages on this machine into a
 * self-contained directory (no file outside it is read, so the remote copy reads everything over the link):
 *
 * - DokuWiki (/usr/share/dokuwiki): its configuration and data directory copied next to it (the package keeps
 *   them in /etc/dokuwiki and /var/lib/dokuwiki); needs no database; renders and caches its start page.
 * - WordPress's own files (/usr/share/wordpress) with a page that includes what wp-settings.php includes up to
 *   the database (~290 files): the opening pattern of a WordPress front page, without a database to install.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface BenchApp {
  readonly name: string;
  /** The page measured. */
  readonly page: string;
  /** Text the page must contain (a page that failed to render must not be timed as a success). */
  readonly expect: RegExp;
  /** Writes the application into `dir` (created). */
  write(dir: string): Promise<void>;
}

const DOKUWIKI_LOCAL = `<?php
$conf['title'] = 'devmount bench';
$conf['savedir'] = './data';
$conf['useacl'] = 0;
$conf['userewrite'] = 0;
`;

export const DOKUWIKI: BenchApp = Object.freeze({
  name: 'DokuWiki start page',
  page: '/doku.php?id=start',
  expect: /devmount bench/,
  async write(dir: string) {
    await cp('/usr/share/dokuwiki', dir, { recursive: true, dereference: true });
    await rm(join(dir, '.htaccess'), { force: true });
    // The package's preload points the configuration at /etc/dokuwiki; upstream's default is DOKU_INC/conf/.
    await writeFile(join(dir, 'inc', 'preload.php'), '<?php\n');
    await cp('/etc/dokuwiki', join(dir, 'conf'), { recursive: true, dereference: true });
    await writeFile(join(dir, 'conf', 'local.php'), DOKUWIKI_LOCAL);
    await cp('/var/lib/dokuwiki/data', join(dir, 'data'), { recursive: true, dereference: true });
  },
});

export const WORDPRESS_INCLUDES: BenchApp = Object.freeze({
  name: 'WordPress includes page',
  page: '/wp-includes-page.php',
  expect: /\d+ files included/,
  async write(dir: string) {
    await cp('/usr/share/wordpress', dir, { recursive: true, dereference: true });
    const settings = await readFile(join(dir, 'wp-settings.php'), 'utf8');
    const requires = settings.split('\n').filter((line) => /^require(_once)? ABSPATH \. WPINC \. '[^']+';$/.test(line));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'wp-includes-page.php'), [
      '<?php',
      "define('ABSPATH', __DIR__ . '/');",
      "define('WPINC', 'wp-includes');",
      ...requires,
      'echo "<!doctype html><title>wp-includes</title><p>", count(get_included_files()), " files included</p>";',
      '',
    ].join('\n'));
  },
});
