import { startPhpSite } from './helpers/php-site.js';
import { describeRewriteTable } from './helpers/rewrite-runner.js';

// Table-driven: each site (WordPress's and Laravel's .htaccess verbatim, flags, access rules) runs on a real
// dev server with real php-cgi; each request checks status, Location, body and what the script saw.
describeRewriteTable('rewrite table', async (files) => {
  const server = await startPhpSite(files);
  return { origin: server.origin, stop: () => server.close() };
});
