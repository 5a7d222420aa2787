/**
 * The nginx table (helpers/nginx-cases.ts) against a real nginx + php-fpm on loopback, and the same server
 * blocks through `devmount serve --nginx-config` with its own PHP: both must give the same status, Location,
 * body, script view and selected headers for every case. If nginx disagrees with an expectation, the
 * expectation (and so devmount) is wrong.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillServerBlock, startNginx } from './helpers/nginx.js';
import { NGINX_SITES, type NginxTableSite } from './helpers/nginx-cases.js';
import { startPhpSite } from './helpers/php-site.js';
import { checkCase, type RewriteServer } from './helpers/rewrite-runner.js';

async function startDevmount(site: NginxTableSite): Promise<RewriteServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'devmount-nginx-conf-'));
  const configFile = path.join(dir, 'site.conf');
  // The root and listen address of the block mean nothing to devmount (it serves its own directory).
  await writeFile(configFile, fillServerBlock(site.serverBlock, { listen: '127.0.0.1:8080', root: '/srv/site', php: 'unix:/run/php/php-fpm.sock' }));
  const server = await startPhpSite(site.files, { flags: { nginxConfig: configFile } });
  return {
    origin: server.origin,
    async stop() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startReference(site: NginxTableSite): Promise<RewriteServer> {
  const nginx = await startNginx({ serverBlock: site.serverBlock, files: site.files });
  return { origin: nginx.origin, stop: () => nginx.stop() };
}

for (const [title, start, reference] of [['nginx + php-fpm', startReference, true], ['devmount --nginx-config', startDevmount, false]] as const) {
  for (const site of NGINX_SITES) {
    describe(`${title}: ${site.name}`, () => {
      let server: RewriteServer;
      beforeAll(async () => { server = await start(site); });
      afterAll(async () => { await server?.stop(); });
      for (const row of site.cases) {
        // A row where devmount refuses on purpose is checked against nginx's own answer there (NginxCase.nginx).
        const c = reference && row.nginx !== undefined ? { ...row, ...row.nginx } : row;
        it(`${c.method ?? 'GET'} ${c.target} → ${c.status}${c.header ? ` ${c.header[0]}` : ''}`, async () => {
          expect(await checkCase(server.origin, c)).toEqual([]);
        });
      }
    });
  }
}
