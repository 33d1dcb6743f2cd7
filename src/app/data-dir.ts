// The data directory: where Keyhole keeps state (signing keys, databases of later features).
// Private to the user that runs the server.

import { mkdirSync, statSync } from 'node:fs';
import type { Logger } from '../observability/logger.ts';

/** Creates `dir` (and its parents) with mode 0700 when missing; fails if it exists as something else. */
export function ensureDataDir(dir: string, logger: Logger): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`data directory ${dir}: cannot create it (${code})`, { cause: err });
  }
  const stat = statSync(dir);
  if (!stat.isDirectory()) throw new Error(`data directory ${dir}: exists but is not a directory`);
  // A directory created by someone else may be readable by others; say so rather than change it.
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    logger.warn('the data directory is accessible to other users; use chmod 700', {
      dataDir: dir,
      mode: (stat.mode & 0o777).toString(8),
    });
  }
}
