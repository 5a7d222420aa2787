/**
 * Quoting for a POSIX sh command line on the server: the login shell of an exec channel (bulk listings, the
 * remote watcher, backups, tunnels, nginx discovery). sh(1) "Quoting": nothing inside single quotes is special
 * except the closing quote, which is written as '\'' . The empty word quotes to '' (an empty argument, not none).
 */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * A path as a command operand: find(1) and others read an operand starting with '-' as an option, and GNU find
 * accepts no `--` before its starting points, so such relative paths get a './' prefix.
 */
export function shellPathOperand(path: string): string {
  const safe = path === '' ? '.' : path.startsWith('-') ? `./${path}` : path;
  return shellQuote(safe);
}
