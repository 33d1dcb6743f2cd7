// Runs the CLI as the whole process: real stdio, environment and working directory; unhandled errors
// become one JSON log line and exit code 1; the process exits with the command's code.

import { createLogger } from '../observability/logger.ts';
import { run } from './run.ts';

export async function runAsProcess(argv: readonly string[]): Promise<never> {
  const fatal = createLogger();
  const die = (error: unknown): never => {
    // One line, so log collectors keep the whole failure together.
    fatal.error(error instanceof Error ? error.message : 'unhandled error', { error });
    process.exit(1);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
  try {
    const code = await run(argv, {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      env: process.env,
      cwd: process.cwd(),
    });
    // Exit even if a handler left a timer or socket behind: the command has finished.
    process.exit(code);
  } catch (err) {
    return die(err);
  }
}
