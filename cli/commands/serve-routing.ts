/**
 * The application-routing flags of `devmount serve`: --front-controller (nginx's
 * `try_files $uri $uri/ /index.php?$query_string`) with detection of the common PHP layouts (devserver/app-layout.ts).
 * Plugged into serve.ts through its serveFlagHooks; the middleware goes into the `beforeResolve` slot after
 * .htaccess, so a site whose .htaccess routes requests is left to it.
 */
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { UserError } from '../user-error.js';
import type { DevServerOptions } from '../../devserver/server.js';
import type { FileSource } from '../../devserver/file-source.js';
import type { Middleware } from '../../devserver/middleware.js';
import { detectAppLayout, htaccessRoutes, type AppLayout } from '../../devserver/app-layout.js';
import { frontController } from '../../devserver/middlewares/front-controller.js';
import type { ServeFlagHook, ServeFlags } from './serve.js';

interface RoutingFlags {
  frontController?: string;
  htaccess?: boolean;
}

/** The --front-controller value that turns detection off. */
export const FRONT_CONTROLLER_OFF = 'none';

/** The script of `--front-controller SCRIPT` as a site path, checked; null for 'none'; undefined when not given. */
export function frontControllerFlag(flags: ServeFlags): string | null | undefined {
  const value = (flags as RoutingFlags).frontController;
  if (value === undefined) return undefined;
  if (value === FRONT_CONTROLLER_OFF) return null;
  const path = value.startsWith('/') ? value : `/${value}`;
  if (path.endsWith('/') || path.split('/').some((s, i) => i > 0 && (s === '' || s === '.' || s === '..' || s.startsWith('.')))) {
    throw new UserError('usage', `--front-controller ${value}: give a script inside the site, such as /index.php (or "${FRONT_CONTROLLER_OFF}")`);
  }
  return path;
}

/** The start-up line for a detected layout. */
export function layoutLine(layout: AppLayout, routing: 'front controller' | 'htaccess'): string {
  const served = layout.webRoot === '/' ? '' : `serving ${layout.webRoot.slice(1)}/, `;
  const route = routing === 'htaccess'
    ? 'its .htaccess routes requests'
    : `front controller ${layout.script} for paths that are not files`;
  return `devmount serve: ${layout.name} layout (${layout.evidence}): ${served}${route} (--front-controller ${FRONT_CONTROLLER_OFF} to turn off)\n`;
}

export const routingServeHook: ServeFlagHook = {
  addOptions(command: Command): void {
    command.option('--front-controller <script>',
      `run SCRIPT for paths that are not files, as nginx's try_files $uri $uri/ /index.php (default: detected for WordPress, Laravel, Symfony, Drupal; "${FRONT_CONTROLLER_OFF}" to turn off)`);
  },

  async resolve(flags: ServeFlags, { source, layout }: { source: FileSource; log: Logger; layout?: AppLayout | null }): Promise<Partial<DevServerOptions>> {
    const explicit = frontControllerFlag(flags);
    const beforeResolve: Middleware[] = [];
    if (explicit !== undefined) {
      if (explicit !== null) beforeResolve.push(frontController({ script: explicit, source }));
      return { slots: { beforeResolve } };
    }
    const found = layout === undefined ? await detectAppLayout(source) : layout;
    if (found === null) return {};
    // A layout found by the caller already serves its web root; one found here is the served directory itself.
    if (layout === undefined && found.webRoot !== '/') {
      process.stdout.write(`devmount serve: ${found.name} layout (${found.evidence}): its web root is ${found.webRoot.slice(1)}/; serve that directory for its front controller\n`);
      return {};
    }
    const htaccessOn = (flags as RoutingFlags).htaccess !== false;
    if (htaccessOn && await htaccessRoutes(source, '/')) {
      process.stdout.write(layoutLine(found, 'htaccess'));
      return {};
    }
    process.stdout.write(layoutLine(found, 'front controller'));
    beforeResolve.push(frontController({ script: found.script, source }));
    return { slots: { beforeResolve } };
  },
};
