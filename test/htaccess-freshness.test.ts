/**
 * .htaccess freshness: a rule written a moment ago applies to the very next request, as Apache reads .htaccess per
 * request. WordPress writes .htaccess and at once requests a pretty URL from itself while the writing PHP request
 * is still running, before any batched watcher event. The store's two ways of knowing (htaccess/store.ts) run the
 * same table over a real directory: watched (inotify, per directory) and checked (a polling source: a stat per
 * level and request). Then the WordPress pattern itself, through php-cgi.
 */
import { mkdir, mkdtemp, rename, rm, writeFile as writeFileNow } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EMPTY_CONFIG } from '../devserver/htaccess/config.js';
import { createHtaccessStore, type HtaccessStore } from '../devserver/htaccess/store.js';
import { LocalFileSource } from '../devserver/sources/local.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';

describe.each([
  { mode: 'watched', watch: 'auto' as const },
  { mode: 'checked', watch: { pollMs: 60_000 } },
])('$mode store: the next configFor sees what was just written', ({ mode, watch }) => {
  let base: string;
  let root: string;
  let source: LocalFileSource;
  let store: HtaccessStore;
  let door: Server;
  // A request reaches the store only after its bytes came in over a socket, after the write that preceded it: the
  // order the watched store relies on (sources/local.ts). Inside one process an fs promise can settle before the
  // kernel's inotify event is read, so each change below is followed by a connection to a local socket, accepted
  // before the store is asked, as a request would be.
  const changed = async (change: Promise<void>): Promise<void> => {
    await change;
    await new Promise<void>((resolve, reject) => {
      door.once('connection', (socket) => { socket.destroy(); resolve(); });
      const address = door.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const client = connect(address.port, '127.0.0.1');
      client.on('error', reject).on('connect', () => client.destroy());
    });
  };
  const writeFile = (file: string, text: string): Promise<void> => changed(writeFileNow(file, text));
  beforeAll(async () => {
    door = createServer();
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve));
    base = await mkdtemp(path.join(tmpdir(), 'devmount-htfresh-'));
    root = path.join(base, 'site');
    await mkdir(path.join(root, 'a'), { recursive: true });
    await mkdir(path.join(root, 'b'));
    source = await LocalFileSource.open(root, { watch });
    const directoryWatch = source.directoryWatch();
    // The table below must run in the mode it names: a polling source offers no per-directory watch.
    expect(directoryWatch === null).toBe(mode === 'checked');
    store = createHtaccessStore(source, () => undefined, { directoryWatch });
  });
  afterAll(async () => {
    door?.close();
    store?.close();
    await source?.close();
    await rm(base, { recursive: true, force: true });
  });

  test('a new .htaccess, an edit, a removal', async () => {
    expect(await store.configFor('/a/')).toBe(EMPTY_CONFIG);
    await writeFile(path.join(root, 'a/.htaccess'), 'Options -Indexes\n');
    expect((await store.configFor('/a/')).indexes).toBe(false);
    await writeFile(path.join(root, 'a/.htaccess'), 'Options +Indexes\n# longer than before\n');
    expect((await store.configFor('/a/')).indexes).toBe(true);
    await changed(rm(path.join(root, 'a/.htaccess')));
    expect(await store.configFor('/a/')).toBe(EMPTY_CONFIG);
  });

  test('a parent directory\'s .htaccess applies to a cached deeper chain', async () => {
    await mkdir(path.join(root, 'p/q'), { recursive: true });
    expect(await store.configFor('/p/q/')).toBe(EMPTY_CONFIG);
    await writeFile(path.join(root, '.htaccess'), 'Options -Indexes\n');
    expect((await store.configFor('/p/q/')).indexes).toBe(false);
    await changed(rm(path.join(root, '.htaccess')));
    expect(await store.configFor('/p/q/')).toBe(EMPTY_CONFIG);
  });

  test('a directory replaced by another one holding an .htaccess', async () => {
    expect(await store.configFor('/b/')).toBe(EMPTY_CONFIG);
    await mkdir(path.join(root, 'b-new'));
    await writeFile(path.join(root, 'b-new/.htaccess'), 'Options -Indexes\n');
    await rename(path.join(root, 'b'), path.join(root, 'b-old'));
    await changed(rename(path.join(root, 'b-new'), path.join(root, 'b')));
    expect((await store.configFor('/b/')).indexes).toBe(false);
    // The directory now at /b/ is watched too: an edit there is seen.
    await writeFile(path.join(root, 'b/.htaccess'), 'Options +Indexes\n# longer than before\n');
    expect((await store.configFor('/b/')).indexes).toBe(true);
  });

  test('a directory that did not exist yet, created with its .htaccess', async () => {
    expect(await store.configFor('/c/d/')).toBe(EMPTY_CONFIG);
    await changed(mkdir(path.join(root, 'c/d'), { recursive: true }).then(() => undefined));
    await writeFile(path.join(root, 'c/d/.htaccess'), 'Options -Indexes\n');
    expect((await store.configFor('/c/d/')).indexes).toBe(false);
  });
});

describe('a PHP request that writes .htaccess and then requests its own site', () => {
  let site: PhpSite;
  beforeAll(async () => {
    site = await startPhpSite({
      'area/doc.txt': 'doc\n',
      'swap/doc.txt': 'doc\n',
      // As WordPress's wp_install_maybe_enable_pretty_permalinks(): write the rules, then ask the site itself
      // while this request is still running. The status of the inner request is the answer.
      'writer.php': `<?php
        $dir = __DIR__ . '/' . $_GET['dir'];
        if (isset($_GET['swap'])) {
          mkdir("$dir-new");
          file_put_contents("$dir-new/doc.txt", "doc\\n");
          file_put_contents("$dir-new/.htaccess", $_GET['rules']);
          rename($dir, "$dir-old");
          rename("$dir-new", $dir);
        } else {
          file_put_contents("$dir/.htaccess", $_GET['rules']);
        }
        $context = stream_context_create(['http' => ['ignore_errors' => true]]);
        file_get_contents("http://127.0.0.1:{$_SERVER['SERVER_PORT']}/{$_GET['dir']}/{$_GET['then']}", false, $context);
        echo explode(' ', $http_response_header[0])[1];`,
    }, { phpWorkers: 2 });
  });
  afterAll(async () => { await site?.close(); });

  const writeThenRequest = async (query: Record<string, string>): Promise<string> => {
    const res = await fetch(`${site.origin}/writer.php?${new URLSearchParams(query).toString()}`);
    expect(res.status).toBe(200);
    return res.text();
  };

  test.each([
    ['a new .htaccess denies', { dir: 'area', rules: 'Require all denied\n', then: 'doc.txt' }, '403'],
    ['an edit of the same size allows again', { dir: 'area', rules: 'Require all granted', then: 'doc.txt' }, '200'],
    ['a rewrite rule routes a pretty URL', { dir: 'area', rules: 'RewriteEngine On\nRewriteRule ^pretty$ doc.txt [L]\n', then: 'pretty' }, '200'],
    ['a directory swapped for one whose .htaccess denies', { dir: 'swap', rules: 'Require all denied\n', then: 'doc.txt', swap: '1' }, '403'],
  ])('%s', async (_what, query, inner) => {
    // The chain is cached first, as on a site that has been answering requests.
    await fetch(`${site.origin}/${query.dir}/doc.txt`).then((r) => r.arrayBuffer());
    expect(await writeThenRequest(query)).toBe(inner);
  });
});
