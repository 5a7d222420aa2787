import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';
import { REWRITE_SITES } from './helpers/rewrite-cases.js';
import { checkCase } from './helpers/rewrite-runner.js';

// Table-driven: each site (WordPress's and Laravel's .htaccess verbatim, flags, access rules) runs on a real
// dev server with real php-cgi; each request checks status, Location, body and what the script saw.
for (const site of REWRITE_SITES) {
  describe(`rewrite table: ${site.name}`, () => {
    let server: PhpSite;
    beforeAll(async () => { server = await startPhpSite(site.files); });
    afterAll(async () => { await server.close(); });
    for (const c of site.cases) {
      it(`${c.method ?? 'GET'} ${c.target} → ${c.status}`, async () => {
        expect(await checkCase(server.origin, c)).toEqual([]);
      });
    }
  });
}
