import { startApache } from './helpers/apache.js';
import { describeRewriteTable } from './helpers/rewrite-runner.js';

// Differential check: the same table as rewrite-table.test.ts, against a real Apache 2.4 with mod_php on
// loopback (Debian apache2 + libapache2-mod-php, installed by .ci/run). If Apache disagrees with an expectation,
// the expectation (and so devmount) is wrong.
describeRewriteTable('Apache differential', async (files) => {
  const apache = await startApache(files);
  return { origin: apache.origin, stop: () => apache.stop() };
});
