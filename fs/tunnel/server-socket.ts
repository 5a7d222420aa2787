/**
 * Where MySQL/MariaDB listens on the server when the site says `localhost`: the socket the server's own client
 * configuration names (`my_print_defaults`, which reads the my.cnf files as the client library does), else the
 * first of the distributions' usual paths that is a socket.
 */
import type { RemoteShell } from '../bulk/types.js';

/** Debian/Ubuntu, older Debian, RHEL/Fedora, the upstream default (in that order). */
export const USUAL_MYSQL_SOCKETS: readonly string[] = Object.freeze([
  '/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock', '/var/lib/mysql/mysql.sock', '/tmp/mysql.sock',
]);

const FIND_SOCKET = [
  's=$(my_print_defaults client mysqld 2>/dev/null | sed -n "s/^--socket=//p" | head -n 1)',
  'if [ -n "$s" ] && [ -S "$s" ]; then printf "%s\\n" "$s"; exit 0; fi',
  `for p in ${USUAL_MYSQL_SOCKETS.join(' ')}; do if [ -S "$p" ]; then printf "%s\\n" "$p"; exit 0; fi; done`,
].join('; ');

/** The first usual path when the server has no shell or none of them is a socket (the forward then says why it failed). */
export async function findServerMysqlSocket(shell: RemoteShell | undefined): Promise<string> {
  const fallback = USUAL_MYSQL_SOCKETS[0] as string;
  if (shell === undefined) return fallback;
  const result = await shell.exec(FIND_SOCKET).catch(() => null);
  const found = result?.stdout.toString('utf8').trim().split('\n')[0] ?? '';
  return found.startsWith('/') ? found : fallback;
}
