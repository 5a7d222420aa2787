/**
 * DNS-rebinding guard (the class of CVE-2025-24010): a page on evil.example whose name is re-pointed to
 * 127.0.0.1 reaches this server with `Host: evil.example`. Only loopback names, IP literals (a rebinding
 * attack always carries a DNS name), the bound address and --allowed-host names pass.
 */
import { isIP } from 'node:net';
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';

export interface HostCheckOptions {
  readonly boundHost: string;
  /** Extra names (lower case); 'all' turns the check off. */
  readonly allowedHosts: readonly string[] | 'all';
}

/** True when a request with this Host header may be answered. */
export type HostPolicy = (host: string | undefined) => boolean;

/** The check itself, verdicts remembered per Host value: shared by the middleware and the memo's early replay (stack.ts). */
export function hostPolicy(options: HostCheckOptions): HostPolicy {
  const allowed = new Set<string>(options.allowedHosts === 'all' ? [] : options.allowedHosts.map((h) => h.toLowerCase()));
  allowed.add(options.boundHost.toLowerCase());
  if (options.allowedHosts === 'all') return () => true;
  const verdicts = new Map<string, boolean>();
  return (host) => {
    // HTTP/1.0 may omit Host; Node already rejects an HTTP/1.1 request without one (RFC 9112 §3.2).
    if (host === undefined) return true;
    let ok = verdicts.get(host);
    if (ok === undefined) {
      ok = isAllowedHost(host, allowed);
      if (verdicts.size < 1000) verdicts.set(host, ok);
    }
    return ok;
  };
}

export function hostCheck(allows: HostPolicy): Middleware {
  return async function hostCheck(ctx, next) {
    const host = ctx.req.headers.host;
    if (!allows(host)) {
      sendStatus(ctx, 403, `Host "${hostnameOf(host ?? '').slice(0, 100)}" is not allowed; restart with --allowed-host NAME to allow it`);
      return;
    }
    await next();
  };
}

export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    return close === -1 ? h : h.slice(1, close);
  }
  const colon = h.lastIndexOf(':');
  const name = colon === -1 ? h : h.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function isAllowedHost(host: string, allowed: ReadonlySet<string>): boolean {
  const name = hostnameOf(host);
  if (name === '') return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowed.has(name);
}
