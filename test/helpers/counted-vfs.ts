/**
 * A VFS that records every method call: mounted through the FUSE adapter, the record is the list of requests
 * that reached JavaScript (the adapter calls nothing else; requests libfuse's threads or the kernel answer
 * never show up in it).
 */
import type { Vfs } from '../../fs/vfs/types.js';

/** `calls` receives `"<method> <first argument when a path>"` per call. */
export function countedVfs(vfs: Vfs, calls: string[]): Vfs {
  return new Proxy(vfs, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(`${String(key)} ${typeof args[0] === 'string' ? args[0] : ''}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
