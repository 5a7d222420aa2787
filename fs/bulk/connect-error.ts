import { ConnectError, type ConnectErrorKind } from '../ssh/types.js';

export function isConnectErrorKind(err: unknown, kind: ConnectErrorKind): boolean {
  return err instanceof ConnectError && err.kind === kind;
}
