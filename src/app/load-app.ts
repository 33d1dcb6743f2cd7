// Loads the application module: any ES module (TypeScript or JavaScript) that exports
// `createServer(): McpServer | Promise<McpServer>`.

import { pathToFileURL } from 'node:url';
import { McpServer } from '../server/server.ts';

/** The application module could not be loaded or did not produce a server. */
export class AppLoadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AppLoadError';
  }
}

export async function loadServerModule(path: string): Promise<McpServer> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppLoadError(`app ${path}: cannot load the module (${reason})`, { cause: err });
  }
  const create = mod.createServer;
  if (typeof create !== 'function') {
    throw new AppLoadError(`app ${path}: the module does not export a createServer() function`);
  }
  const server: unknown = await create();
  if (!isServer(server)) throw new AppLoadError(`app ${path}: createServer() did not return an McpServer`);
  return server;
}

/** instanceof, or the same shape when the app imported another copy of Keyhole. */
function isServer(value: unknown): value is McpServer {
  if (value instanceof McpServer) return true;
  const v = value as Partial<McpServer> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.tools instanceof Map &&
    v.prompts instanceof Map &&
    v.resources instanceof Map &&
    v.templates instanceof Map &&
    typeof v.onChange === 'function'
  );
}
