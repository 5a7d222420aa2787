/** Quotes one argument for a POSIX shell (the remote login shell of an exec channel): '…' with ' as '\''. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
