/**
 * A read-only RemoteFile over bytes already in memory: what a read-only open of a small cached file
 * returns, so open+read+close costs no round trip. It is a snapshot taken at
 * open, like close-to-open consistency on NFS: a change on the server is seen at the next open.
 */
import { FsError } from '../errors.js';
import type { RemoteFile } from '../remote/types.js';
import type { Attr } from '../types.js';

export function createMemoryFile(path: string, data: Buffer, attr: Attr): RemoteFile {
  const readOnly = (): Promise<never> => Promise.reject(new FsError('EBADF', 'file is open read-only', path));
  return Object.freeze({
    path,
    async read(position: number, length: number): Promise<Buffer> {
      if (position >= data.length) return Buffer.alloc(0);
      return data.subarray(position, Math.min(data.length, position + length));
    },
    async readInto(position: number, target: Buffer): Promise<number> {
      if (position >= data.length) return 0;
      return data.copy(target, 0, position, Math.min(data.length, position + target.length));
    },
    write: readOnly,
    ftruncate: readOnly,
    async fstat(): Promise<Attr> {
      return attr;
    },
    async fsync(): Promise<void> {
      // nothing was written through this handle, so there is nothing to make durable
    },
    async close(): Promise<void> {
      // no server handle was opened
    },
  });
}
