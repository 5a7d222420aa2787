/** Fan-out of change events; a throwing listener is reported, never allowed to fail the mutation that emitted. */
import type { ChangeEvent, ChangeListener } from './types.js';

export class ChangeEmitter {
  private readonly listeners = new Set<ChangeListener>();

  add(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(event: ChangeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        // The mutation already succeeded on the server; failing it now would lie to the caller.
        process.emitWarning(`devmount change listener threw: ${(err as Error).message}`);
      }
    }
  }
}
