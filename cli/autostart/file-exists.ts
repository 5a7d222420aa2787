import { access } from 'node:fs/promises';

/** Whether the service file is there; both autostart managers decide "installed" by it. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false; // missing (or unreadable): not installed as far as we can tell
  }
}
