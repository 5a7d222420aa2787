import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApache, type Apache } from './helpers/apache.js';
import { REWRITE_SITES } from './helpers/rewrite-cases.js';
import { checkCase } from './helpers/rewrite-runner.js';

// Differential check: the same table as rewrite-table.test.ts, against a real Apache 2.4 with mod_php on
// loopback (Debian apache2 + libapache2-mod-php, installed by .ci/run). If Apache disagrees with an expectation,
// the expectation (and so devmount) is wrong.
for (const site of REWRITE_SITES) {
  describe(`Apache differential: ${site.name}`, () => {
    let apache: Apache;
    beforeAll(async () => { apache = await startApache(site.files); });
    afterAll(async () => { await apache.stop(); });
    for (const c of site.cases) {
      it(`${c.method ?? 'GET'} ${c.target} → ${c.status}`, async () => {
        expect(await checkCase(apache.origin, c)).toEqual([]);
      });
    }
  });
}
