#!/usr/bin/env node
// Entry point for the `keyhole` command. Keyhole runs its TypeScript sources directly on
// Node >= 22.18 (type stripping), so this shim only checks the runtime and loads the CLI.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `keyhole needs Node >= 22.18 (this is ${process.version}); run it through npm, which uses the project's own Node.\n`,
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
