/**
 * `serve user@host:path` without --site-url, for a site whose URL WordPress's database did not give: the
 * production URL from the server's nginx server block for the path, else from its Apache virtual host
 * (devserver/server-site-url.ts). Part of reading the server's configuration, so --no-server-config skips it.
 */
import type { FoundServer } from '../devserver/nginx/discover.js';
import { apacheSiteUrl, nginxSiteUrl, readApacheSites } from '../devserver/server-site-url.js';
import type { SiteUrl } from '../devserver/site-url.js';
import type { ServeFlags, ServeHookContext } from './commands/serve-flags.js';
import { parseDetectedUrl } from './remote-serve.js';

export async function detectServerSiteUrl(flags: ServeFlags, context: ServeHookContext, found: FoundServer | null): Promise<SiteUrl | undefined> {
  const remote = context.remote;
  if (remote === undefined || flags.siteUrl !== undefined || context.site?.siteUrl !== undefined) return undefined;
  let named = found === null ? null : nginxSiteUrl(found.block);
  if (found === null) {
    // No nginx block serves the path: Apache's, if the server runs commands and has sites-enabled/.
    const files = await readApacheSites(remote.shell).catch((err: unknown) => {
      context.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'Apache configuration of the server not read');
      return new Map<string, string>();
    });
    named = apacheSiteUrl(files, remote.root);
  }
  if (named === null) return undefined;
  return parseDetectedUrl(named.url, `${named.from}; --site-url to give another`, (line) => process.stdout.write(`${line}\n`));
}
