/**
 * Every resource a start-up opens hands back a closer; they go on one stack, and whichever path ends the
 * resources — a normal shutdown, or a failure halfway through the start — unwinds that same stack: last opened,
 * first closed (a mount goes before the file system it serves, a server before the workers it calls). A
 * failure half-way through therefore closes exactly what was opened, in the same order a shutdown would.
 *
 * Closers run one after another, each once; one that fails does not stop the rest. A closer that has its own
 * view of failure (a warning, an exit code) catches its errors itself; what escapes is handed back.
 */
export type Closer = () => Promise<void> | void;

export interface CloserStack {
  /** Registers the closer of a resource just opened. */
  push(close: Closer): void;
  /**
   * Runs every closer pushed so far, last first, and forgets them; the errors that escaped, in that order.
   * Concurrent calls share one unwinding.
   */
  unwind(): Promise<unknown[]>;
}

export function createCloserStack(): CloserStack {
  const closers: Closer[] = [];
  let unwinding: Promise<unknown[]> | null = null;
  return {
    push(close) {
      closers.push(close);
    },
    unwind() {
      unwinding ??= (async () => {
        const errors: unknown[] = [];
        for (let close = closers.pop(); close !== undefined; close = closers.pop()) {
          try {
            await close();
          } catch (err) {
            errors.push(err);
          }
        }
        unwinding = null;
        return errors;
      })();
      return unwinding;
    },
  };
}
