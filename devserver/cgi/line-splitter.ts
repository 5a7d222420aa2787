/**
 * Turns a byte stream (a script's stderr) into lines for the log, with a cap so a script printing one endless
 * line cannot make us buffer without bound.
 */
const MAX_LINE = 8192;

export function createLineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let pending = '';
  return {
    push(chunk: Buffer): void {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        const line = pending.slice(0, newline).replace(/\r$/, '');
        if (line !== '') onLine(line);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      if (pending.length > MAX_LINE) {
        onLine(pending.slice(0, MAX_LINE));
        pending = '';
      }
    },
    end(): void {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}
