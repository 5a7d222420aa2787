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
import type { Middleware } from '../../devserver/middleware.js';
import { detectAppLayout, htaccessRoutes, type AppLayout } from '../../devserver/app-layout.js';
import { frontController } from '../../devserver/middlewares/front-controller.js';
import { nginxServer } from '../../devserver/middlewares/nginx-server.js';
import { DEFAULT_CONFIG_ROOT, discoverServerConfig, loadLocalServerConfig, ServerConfigChoiceError, type FoundServer } from '../../devserver/nginx/discover.js';
import { NginxSyntaxError } from '../../devserver/nginx/parser.js';
import type { Warn } from '../../devserver/nginx/server-config.js';
import type { ServeFlagHook, ServeFlags, ServeHookContext, ServeHookResult } from './serve-flags.js';
import { detectServerSiteUrl } from '../server-site-url.js';

interface RoutingFlags {
  frontController?: string;
  htaccess?: boolean;
  nginxConfig?: string;
  serverConfig?: boolean;
  serverConfigRoot?: string;
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

  async resolve(flags: ServeFlags, { source, layout, routedBy }: ServeHookContext): Promise<Partial<DevServerOptions>> {
    const explicit = frontControllerFlag(flags);
    if (routedBy !== undefined) {
      if (explicit !== undefined && explicit !== null) throw new UserError('usage', `--front-controller: ${routedBy} routes requests; give --no-server-config to use a front controller instead`);
      return {};
    }
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

/** Logs the configuration's reports: settings with no meaning locally as info, unsupported ones as warnings. */
function configWarn(log: Logger): Warn {
  return (w) => {
    const fields = { file: w.file, line: w.line };
    if (w.level === 'info') log.info(fields, `nginx config: ${w.message}`);
    else log.warn(fields, `nginx config: ${w.message}`);
  };
}

async function findServer(flags: RoutingFlags, context: ServeHookContext, log: Logger): Promise<FoundServer | null> {
  const configRoot = flags.serverConfigRoot ?? DEFAULT_CONFIG_ROOT;
  if (flags.nginxConfig !== undefined) {
    try {
      return await loadLocalServerConfig(flags.nginxConfig, configRoot, (await context.source.localPath('/')) ?? '', configWarn(log));
    } catch (err) {
      if (err instanceof NginxSyntaxError || err instanceof ServerConfigChoiceError) throw new UserError('usage', `--nginx-config: ${err.message}`);
      throw err;
    }
  }
  if (context.remote === undefined) return null;
  try {
    return await discoverServerConfig(context.remote.shell, context.remote.openSftp, context.remote.root, configRoot, configWarn(log));
  } catch (err) {
    // The site still serves without the server's rules; the reason is logged once.
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'nginx config of the server not read; serving without it (--no-server-config to skip)');
    return null;
  }
}

/**
 * --nginx-config FILE, and for `serve user@host:path` the server's own nginx server block for the path
 * (devserver/nginx/discover.ts); --no-server-config turns both off.
 */
export const serverConfigServeHook: ServeFlagHook = {
  addOptions(command: Command): void {
    command
      .option('--nginx-config <file>', 'apply the nginx server block in FILE (try_files, location, rewrite, return, deny, add_header, error_page, index)')
      .option('--no-server-config', "for user@host:path: do not read the server's nginx configuration (nor its nginx or Apache site name for the production URL)")
      .option('--server-config-root <dir>', `where nginx's configuration lives (includes are relative to it; default ${DEFAULT_CONFIG_ROOT})`);
  },

  async resolve(rawFlags: ServeFlags, context: ServeHookContext): Promise<ServeHookResult> {
    const flags = rawFlags as ServeFlags & RoutingFlags;
    if (flags.serverConfig === false) {
      if (flags.nginxConfig !== undefined) throw new UserError('usage', '--nginx-config and --no-server-config contradict each other: give one');
      return {};
    }
    const found = await findServer(flags, context, context.log);
    // The production URL from the same configuration (server_name, else Apache's ServerName), when nothing gave one.
    const siteUrl = await detectServerSiteUrl(flags, context, found);
    const detected = siteUrl !== undefined ? { siteUrl } : {};
    if (found === null) return detected;
    const { server } = found;
    const routedBy = `the nginx server block at ${server.where}`;
    process.stdout.write(`devmount serve: applying ${routedBy} (read via ${found.via}); .htaccess files are ignored, as under nginx (--no-server-config to turn off)\n`);
    const documentRoot = (await context.source.localPath('/')) ?? '';
    return { routedBy, ...detected, slots: { beforeResolve: [nginxServer({ server, documentRoot })] } };
  },
};
