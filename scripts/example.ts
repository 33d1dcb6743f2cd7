// `npm run example -- <name> [serve options]`: serves examples/<name>/server.ts with `keyhole serve`.

import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runAsProcess } from '../src/cli/process.ts';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));

/** Every directory of examples/ with a server.ts. */
function examples(): string[] {
  return readdirSync(EXAMPLES, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${EXAMPLES}${d.name}/server.ts`))
    .map((d) => d.name)
    .sort();
}

const [name, ...rest] = process.argv.slice(2);
const known = examples();
// Names are plain directory names: nothing that could step outside examples/.
if (name === undefined || !/^[a-z0-9][a-z0-9_-]*$/i.test(name) || !known.includes(name)) {
  const why = name === undefined ? 'which example?' : `no example named "${name}"`;
  process.stderr.write(
    `${why}\n\nUsage: npm run example -- <name> [keyhole serve options]\n\nExamples:\n${known.map((n) => `  ${n}`).join('\n')}\n`,
  );
  process.exit(2);
}

await runAsProcess(['serve', '--app', `${EXAMPLES}${name}/server.ts`, ...rest]);
