// Keyhole's public API. Applications import from here (the package's "." export).

export type { BuildOptions } from './app/engine.ts';
export { createKeyhole, httpOptions, type Keyhole } from './app/keyhole.ts';
export { AppLoadError, loadServerModule } from './app/load-app.ts';
export { createStdioKeyhole, type StdioKeyhole } from './app/stdio.ts';
// Configuration, wiring and logging
export { DEFAULTS } from './config/defaults.ts';
export {
  ConfigError,
  type ConfigSources,
  describeConfig,
  type LoadOptions,
  loadConfig,
} from './config/load.ts';
export type { KeyholeConfig } from './config/types.ts';
export {
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from './observability/logger.ts';
// Protocol engine and wire types (for custom transports and tests)
export type { Dispatch, Outbound, Principal, Reply } from './protocol/contract.ts';
export { Engine, type EngineOptions } from './protocol/engine.ts';
export {
  ErrorCode,
  type JsonObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type JsonValue,
  McpError,
} from './protocol/jsonrpc.ts';
export { LegacySession } from './protocol/session.ts';
export {
  LATEST_VERSION,
  LEGACY_VERSIONS,
  MODERN_VERSIONS,
  type ProtocolVersion,
  SUPPORTED_VERSIONS,
} from './protocol/versions.ts';
// Building an MCP server
export type { HandlerContext } from './server/context.ts';
export type { CompiledSchema, Infer, JsonSchema, SchemaInput } from './server/schema.ts';
export {
  type Completer,
  type Handle,
  type HeaderParam,
  type MaybePromise,
  McpServer,
  type PromptDefinition,
  type ResourceDefinition,
  type ResourceListing,
  type ResourceTemplateDefinition,
  type ServerChange,
  type ServerOptions,
  type ToolDefinition,
  type ToolReturn,
} from './server/server.ts';
export type * from './server/types.ts';
export { LOGGING_LEVELS } from './server/types.ts';
export { UriTemplate } from './server/uri-template.ts';
// Transports
export { createHttpApp, type HttpApp } from './transport/http/app.ts';
export type { HttpOptions } from './transport/http/options.ts';
export { type StdioOptions, type StdioTransport, serveStdio } from './transport/stdio/stdio.ts';
