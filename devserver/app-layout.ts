/**
 * Recognises the PHP application layouts whose routing lives in the web server's configuration (nginx server
 * blocks) rather than in a `.htaccess`: WordPress, Laravel, Symfony, Drupal. Each routes every path that is not
 * a file to one front controller script; Laravel and Symfony serve their `public/` directory, not the project.
 * Reads through the FileSource only (no synchronous fs, no mount deadlock).
 */
import type { FileSource } from './file-source.js';

export interface AppLayout {
  /** 'WordPress', 'Laravel', … for the start-up line. */
  readonly name: string;
  /** What was found, for the start-up line ('wp-config.php'). */
  readonly evidence: string;
  /** Site path of the directory to serve: '/' or '/public'. */
  readonly webRoot: string;
  /** Site path of the front controller inside webRoot. */
  readonly script: string;
}

interface LayoutRule {
  readonly name: string;
  readonly webRoot: string;
  /** Paths that must exist, with the kind each must be; the first named is the evidence shown. */
  readonly requires: readonly (readonly [string, 'file' | 'directory'])[];
}

// Laravel before Symfony: a Laravel project has no bin/console, a Symfony one no artisan; both have public/index.php.
const RULES: readonly LayoutRule[] = Object.freeze([
  { name: 'WordPress', webRoot: '/', requires: [['/wp-config.php', 'file'], ['/index.php', 'file']] },
  { name: 'WordPress', webRoot: '/', requires: [['/wp-settings.php', 'file'], ['/index.php', 'file']] },
  { name: 'Laravel', webRoot: '/public', requires: [['/artisan', 'file'], ['/public/index.php', 'file']] },
  { name: 'Symfony', webRoot: '/public', requires: [['/bin/console', 'file'], ['/public/index.php', 'file']] },
  { name: 'Drupal', webRoot: '/', requires: [['/core', 'directory'], ['/index.php', 'file']] },
]);

async function matches(source: FileSource, rule: LayoutRule): Promise<boolean> {
  for (const [path, kind] of rule.requires) {
    if ((await source.stat(path))?.kind !== kind) return false;
  }
  return true;
}

export async function detectAppLayout(source: FileSource): Promise<AppLayout | null> {
  for (const rule of RULES) {
    if (await matches(source, rule)) {
      const evidence = (rule.requires[0]?.[0] ?? '').slice(1);
      return Object.freeze({ name: rule.name, evidence, webRoot: rule.webRoot, script: '/index.php' });
    }
  }
  return null;
}

/**
 * True when the `.htaccess` in `dir` (a site path ending in '/') routes requests itself (mod_rewrite or
 * FallbackResource), so a front controller would only duplicate it.
 */
export async function htaccessRoutes(source: FileSource, dir: string): Promise<boolean> {
  const file = `${dir}.htaccess`;
  if ((await source.stat(file))?.kind !== 'file') return false;
  const text = (await source.readFile(file)).toString('utf8');
  return /^\s*(RewriteRule|FallbackResource)\s/im.test(text);
}
