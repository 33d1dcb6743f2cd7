// Entry point of the `keyhole` command (bin/keyhole.js, `npm start`). Structured logs go to stderr;
// stdout carries only what the command prints (the URL for `serve`, JSON-RPC for `stdio`).

import { runAsProcess } from './process.ts';

await runAsProcess(process.argv.slice(2));
