/**
 * WordPress served locally against its live database: WP-Cron is turned off here. WordPress spawns cron by an
 * HTTP request to its own `siteurl` (wp-includes/cron.php spawn_cron()), which is the production host; and the
 * server already runs the same scheduled jobs against the same database, so running them here too would send
 * their mails and posts twice. DISABLE_WP_CRON (the constant WordPress documents for exactly this) is defined
 * by a php-cgi auto_prepend_file, only when the site's wp-config.php does not define it itself (a second
 * define() would be a warning).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { definesConstant } from '../fs/tunnel/site-config.js';

const PREPEND = `<?php
// devmount: WordPress runs here against its live database; WP-Cron stays on the server.
if (!defined('DISABLE_WP_CRON')) define('DISABLE_WP_CRON', true);
`;

/** php-cgi `-d` arguments, or none when the site decides about cron itself. `dir` is private to this run. */
export async function wordpressLocalArgs(wpConfig: string, dir: string): Promise<readonly string[]> {
  if (definesConstant(wpConfig, 'DISABLE_WP_CRON')) return [];
  const file = join(dir, 'wordpress-local.php');
  await writeFile(file, PREPEND, { mode: 0o644 });
  return ['-d', `auto_prepend_file=${file}`];
}
