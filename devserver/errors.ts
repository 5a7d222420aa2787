/** Errors the dev server reports to its caller (translated for the terminal by cli/translate-error.ts). */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is already in use`);
    this.name = 'PortInUseError';
  }
}
