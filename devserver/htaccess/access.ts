/**
 * Access decisions from Require (mod_authz_core) and Order/Allow/Deny (mod_access_compat), at directory level
 * and in <Files>/<FilesMatch> sections (the later, deeper or section rule wins, as Apache merges them).
 */
import { isIP } from 'node:net';
import type { AccessRule, CompiledFilesSection, DirectoryConfig, HeaderEdit } from './config.js';

function ipv4ToInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 0 || n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** "all", an address, a network "10.0.0.0/8", or a partial address "192.168" (mod_access_compat). */
export function hostMatches(spec: string, clientIp: string): boolean {
  if (spec.toLowerCase() === 'all') return true;
  const ip = clientIp.replace(/^::ffff:/, '');
  if (spec.includes('/')) {
    const [net, bitsText] = spec.split('/');
    const bits = Number(bitsText);
    const netInt = ipv4ToInt(net ?? '');
    const ipInt = ipv4ToInt(ip);
    if (netInt === null || ipInt === null || !Number.isInteger(bits)) return false;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ((netInt & mask) >>> 0) === ((ipInt & mask) >>> 0);
  }
  if (isIP(spec) !== 0) return spec === ip || spec === clientIp;
  // Partial IPv4 address: matches on whole octets.
  return /^[0-9.]+$/.test(spec) && `${ip}.`.startsWith(spec.endsWith('.') ? spec : `${spec}.`);
}

export function ruleAllows(rule: AccessRule, clientIp: string): boolean {
  if (rule.kind === 'require') {
    if (rule.grant === 'all') return true;
    if (rule.grant === 'none') return false;
    if (rule.grant === 'local') return clientIp === '::1' || clientIp.replace(/^::ffff:/, '').startsWith('127.');
    return rule.grant.some((spec) => hostMatches(spec, clientIp));
  }
  const allowed = rule.allow.some((spec) => hostMatches(spec, clientIp));
  const denied = rule.deny.some((spec) => hostMatches(spec, clientIp));
  // Order Deny,Allow: allowed unless denied and not explicitly allowed. Order Allow,Deny: denied unless allowed
  // and not denied.
  return rule.order === 'deny,allow' ? !denied || allowed : allowed && !denied;
}

/** fnmatch-style wildcard for <Files>: '*' and '?' never cross '/', [..] classes. */
function wildcardToRegExp(pattern: string): RegExp {
  let source = '';
  for (const c of pattern) {
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[' || c === ']') source += c;
    else source += c.replace(/[.*+?^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export function sectionMatches(section: CompiledFilesSection, basename: string): boolean {
  if (section.match.kind === 'regex') return section.match.regex.test(basename);
  return wildcardToRegExp(section.match.pattern).test(basename);
}

export interface EffectiveFileRules {
  readonly allowed: boolean;
  readonly headers: readonly HeaderEdit[];
  readonly types: ReadonlyMap<string, string>;
}

export function effectiveRules(config: DirectoryConfig, basename: string, clientIp: string): EffectiveFileRules {
  let access = config.access;
  const headers = [...config.headers];
  const types = new Map(config.types);
  for (const section of config.files) {
    if (!sectionMatches(section, basename)) continue;
    access = section.access ?? access;
    headers.push(...section.headers);
    for (const [ext, type] of section.types) types.set(ext, type);
  }
  return { allowed: access === null || ruleAllows(access, clientIp), headers, types };
}
