/**
 * `~` and `%` token expansion for paths in ssh_config, as ssh_config(5) "TOKENS" describes them for
 * IdentityFile, UserKnownHostsFile and friends. The ssh-config package does not expand them.
 */
import { homedir, hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { SshConfigError } from './types.js';

export interface TokenValues {
  readonly host: string; // %n: the name as typed on the command line
  readonly hostName: string; // %h: after HostName
  readonly port: number; // %p
  readonly user: string; // %r: remote user
}

export function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws when the uid has no passwd entry (containers): fall back to the environment, as ssh does with $USER.
    return process.env.USER ?? process.env.LOGNAME ?? 'root';
  }
}

/** `~` or `~/x` → home; other `~user` forms are left alone (ssh would look up that user's home). */
export function expandTilde(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

export function expandTokens(value: string, tokens: TokenValues, home: string = homedir()): string {
  const expanded = value.replace(/%(.)/g, (match, letter: string) => {
    switch (letter) {
      case '%': return '%';
      case 'h': return tokens.hostName;
      case 'n': return tokens.host;
      case 'p': return String(tokens.port);
      case 'r': return tokens.user;
      case 'u': return localUser();
      case 'd': return home;
      case 'L': return hostname().split('.')[0] ?? '';
      case 'l': return hostname();
      default:
        throw new SshConfigError(`unknown token "${match}" in ssh config value "${value}" (ssh_config(5) TOKENS lists the valid ones)`);
    }
  });
  return expandTilde(expanded, home);
}
