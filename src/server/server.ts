// The developer-facing server: tools, resources, resource templates, prompts and completions,
// registered with typed schemas that are compiled once. Transports never see this class directly:
// the protocol engine reads its registry and listens to its change events.

import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../protocol/jsonrpc.ts';
import type { HandlerContext } from './context.ts';
import {
  type CompiledSchema,
  compileSchema,
  EMPTY_OBJECT_SCHEMA,
  type Infer,
  type SchemaInput,
} from './schema.ts';
import type {
  Annotations,
  CallToolResult,
  GetPromptResult,
  Icon,
  Implementation,
  InputRequiredResult,
  PromptArgument,
  ReadResourceResult,
  ResourceContents,
  ToolAnnotations,
} from './types.ts';
import { UriTemplate } from './uri-template.ts';

export type MaybePromise<T> = T | Promise<T>;

// ---------------------------------------------------------------------------------------------
// Definitions

export interface ToolDefinition<
  I extends SchemaInput | undefined = SchemaInput | undefined,
  O extends SchemaInput | undefined = undefined,
> {
  name: string;
  title?: string;
  description?: string;
  icons?: Icon[];
  annotations?: ToolAnnotations;
  /** Input schema: zod or JSON Schema. Omitted: the tool takes no arguments. */
  input?: I;
  /** Output schema: when set, results must carry matching `structuredContent` (MCP server/tools "Output Schema"). */
  output?: O;
  /**
   * OAuth scopes a caller's token must hold to call this tool: without them tools/call gets HTTP 403
   * insufficient_scope naming every one (the tool stays listed, so clients can step up).
   */
  scopes?: readonly string[];
  _meta?: JsonObject;
  handler: (
    args: I extends SchemaInput ? Infer<I> : Record<string, never>,
    ctx: HandlerContext,
  ) => MaybePromise<ToolReturn<O>>;
}

/** A handler may return a full CallToolResult, a plain string (one text block), or an MRTR interim result. */
export type ToolReturn<O> =
  | (CallToolResult & (O extends SchemaInput ? { structuredContent?: Infer<O> } : unknown))
  | string
  | InputRequiredResult;

export interface ResourceDefinition {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  size?: number;
  icons?: Icon[];
  annotations?: Annotations;
  scopes?: readonly string[];
  _meta?: JsonObject;
  read: (
    uri: string,
    ctx: HandlerContext,
  ) => MaybePromise<ReadResourceResult | ResourceContents[] | InputRequiredResult>;
}

export interface ResourceTemplateDefinition {
  /** An RFC 6570 URI template, e.g. `file:///{path}` or `users://{id}/profile`. */
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  icons?: Icon[];
  annotations?: Annotations;
  scopes?: readonly string[];
  _meta?: JsonObject;
  /** Lists concrete resources of this template for resources/list (optional). */
  list?: (ctx: HandlerContext) => MaybePromise<ResourceListing[]>;
  /** Completion for template variables (completion/complete with ref/resource). */
  complete?: Record<string, Completer>;
  /** Returns the contents; `undefined` means "not found" (-32602 in 2026-07-28, -32002 before). */
  read: (
    uri: string,
    variables: Record<string, string>,
    ctx: HandlerContext,
  ) => MaybePromise<ReadResourceResult | ResourceContents[] | InputRequiredResult | undefined>;
}

export interface ResourceListing {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  size?: number;
  icons?: Icon[];
  annotations?: Annotations;
  _meta?: JsonObject;
}

export type Completer = (
  value: string,
  context: { arguments: Record<string, string>; ctx: HandlerContext },
) => MaybePromise<string[] | { values: string[]; total?: number; hasMore?: boolean }>;

export interface PromptDefinition<A extends SchemaInput | undefined = SchemaInput | undefined> {
  name: string;
  title?: string;
  description?: string;
  icons?: Icon[];
  /** Arguments: a zod object (each property becomes an argument) or an explicit list. */
  arguments?: A | PromptArgument[];
  complete?: Record<string, Completer>;
  scopes?: readonly string[];
  _meta?: JsonObject;
  get: (
    args: A extends SchemaInput ? Infer<A> : Record<string, string>,
    ctx: HandlerContext,
  ) => MaybePromise<GetPromptResult | InputRequiredResult>;
}

// ---------------------------------------------------------------------------------------------
// Registered entries (what the engine reads)

export interface RegisteredTool {
  readonly name: string;
  /** The Tool object served by tools/list, built once. */
  readonly listing: JsonObject;
  readonly input: CompiledSchema<Record<string, unknown>>;
  readonly output: CompiledSchema | undefined;
  readonly scopes: readonly string[];
  /** `x-mcp-header` parameters (MCP 2026-07-28 streamable-http "Custom Headers from Tool Parameters"). */
  readonly headerParams: readonly HeaderParam[];
  readonly handler: (args: Record<string, unknown>, ctx: HandlerContext) => MaybePromise<ToolReturn<unknown>>;
}

export interface HeaderParam {
  /** Header name suffix: `Mcp-Param-{name}`, compared case-insensitively; stored lower-case. */
  readonly name: string;
  /** Property path from the arguments root. */
  readonly path: readonly string[];
  readonly type: 'string' | 'integer' | 'boolean';
}

export interface RegisteredResource {
  readonly uri: string;
  readonly listing: JsonObject;
  readonly scopes: readonly string[];
  readonly read: ResourceDefinition['read'];
}

export interface RegisteredTemplate {
  readonly template: UriTemplate;
  readonly listing: JsonObject;
  readonly scopes: readonly string[];
  readonly def: ResourceTemplateDefinition;
}

export interface RegisteredPrompt {
  readonly name: string;
  readonly listing: JsonObject;
  readonly scopes: readonly string[];
  readonly validate: CompiledSchema<Record<string, unknown>> | undefined;
  readonly requiredArgs: readonly string[];
  readonly def: PromptDefinition;
}

export interface Handle {
  /** Removes the entry; emits the matching list_changed notification. */
  remove(): void;
}

/** What changed. */
type ChangeWhat =
  | { kind: 'tools' }
  | { kind: 'resources' }
  | { kind: 'prompts' }
  | { kind: 'resource-updated'; uri: string };

export type ServerChange = ChangeWhat & {
  /**
   * Unique to this change (random, whatever process emitted it): replicas that each deliver the same
   * change to a session they share log it once (the HTTP session backplane deduplicates by it).
   */
  readonly id: string;
};

export interface ServerOptions extends Partial<Implementation> {
  /** Natural-language guidance for models (initialize / server/discover `instructions`). */
  instructions?: string;
  /** Page size for list methods (MCP server/utilities/pagination). Default 100. */
  pageSize?: number;
  /** Freshness hints on cacheable results (MCP 2026-07-28 server/utilities/caching). */
  cache?: { ttlMs?: number; scope?: 'public' | 'private' };
}

// ---------------------------------------------------------------------------------------------

export class McpServer {
  readonly info: Implementation;
  readonly instructions: string | undefined;
  readonly pageSize: number;
  readonly cache: { ttlMs: number; scope: 'public' | 'private' };

  readonly tools = new Map<string, RegisteredTool>();
  readonly resources = new Map<string, RegisteredResource>();
  readonly templates = new Map<string, RegisteredTemplate>();
  readonly prompts = new Map<string, RegisteredPrompt>();

  readonly #listeners = new Set<(change: ServerChange) => void>();

  constructor(options: ServerOptions = {}) {
    const { instructions, pageSize, cache, ...info } = options;
    this.info = { name: info.name ?? 'keyhole', version: info.version ?? '0.0.0', ...info };
    this.instructions = instructions;
    this.pageSize = pageSize ?? 100;
    this.cache = { ttlMs: cache?.ttlMs ?? 60_000, scope: cache?.scope ?? 'private' };
  }

  /** Subscribes to registry changes and resource updates. Returns the unsubscribe function. */
  onChange(listener: (change: ServerChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(what: ChangeWhat): void {
    const change: ServerChange = { ...what, id: randomUUID() };
    for (const l of this.#listeners) l(change);
  }

  /** Tells subscribed clients that a resource changed (notifications/resources/updated). */
  notifyResourceUpdated(uri: string): void {
    this.#emit({ kind: 'resource-updated', uri });
  }

  tool<I extends SchemaInput | undefined = undefined, O extends SchemaInput | undefined = undefined>(
    def: ToolDefinition<I, O>,
  ): Handle {
    if (!def.name) throw new TypeError('a tool needs a name');
    if (this.tools.has(def.name)) throw new Error(`tool "${def.name}" is already registered`);
    const input = compileSchema<Record<string, unknown>>((def.input ?? EMPTY_OBJECT_SCHEMA) as SchemaInput);
    if (input.json.type !== 'object')
      throw new TypeError(`tool "${def.name}": the input schema must describe an object`);
    const output = def.output ? compileSchema(def.output) : undefined;
    const listing: JsonObject = { name: def.name };
    if (def.title !== undefined) listing.title = def.title;
    if (def.description !== undefined) listing.description = def.description;
    if (def.icons) listing.icons = def.icons;
    listing.inputSchema = input.json;
    if (output) listing.outputSchema = output.json;
    if (def.annotations) listing.annotations = def.annotations;
    if (def._meta) listing._meta = def._meta;
    const entry: RegisteredTool = {
      name: def.name,
      listing,
      input,
      output,
      scopes: def.scopes ?? [],
      headerParams: collectHeaderParams(def.name, input.json),
      handler: def.handler as RegisteredTool['handler'],
    };
    this.tools.set(def.name, entry);
    this.#emit({ kind: 'tools' });
    return {
      remove: () => {
        if (this.tools.get(def.name) === entry && this.tools.delete(def.name)) this.#emit({ kind: 'tools' });
      },
    };
  }

  resource(def: ResourceDefinition): Handle {
    if (this.resources.has(def.uri)) throw new Error(`resource "${def.uri}" is already registered`);
    const listing: JsonObject = { uri: def.uri, name: def.name };
    copyOptional(listing, def, ['title', 'description', 'mimeType', 'size', 'icons', 'annotations', '_meta']);
    const entry: RegisteredResource = { uri: def.uri, listing, scopes: def.scopes ?? [], read: def.read };
    this.resources.set(def.uri, entry);
    this.#emit({ kind: 'resources' });
    return {
      remove: () => {
        if (this.resources.get(def.uri) === entry && this.resources.delete(def.uri))
          this.#emit({ kind: 'resources' });
      },
    };
  }

  resourceTemplate(def: ResourceTemplateDefinition): Handle {
    if (this.templates.has(def.uriTemplate))
      throw new Error(`template "${def.uriTemplate}" is already registered`);
    const listing: JsonObject = { uriTemplate: def.uriTemplate, name: def.name };
    copyOptional(listing, def, ['title', 'description', 'mimeType', 'icons', 'annotations', '_meta']);
    const entry: RegisteredTemplate = {
      template: new UriTemplate(def.uriTemplate),
      listing,
      scopes: def.scopes ?? [],
      def,
    };
    this.templates.set(def.uriTemplate, entry);
    this.#emit({ kind: 'resources' });
    return {
      remove: () => {
        if (this.templates.get(def.uriTemplate) === entry && this.templates.delete(def.uriTemplate)) {
          this.#emit({ kind: 'resources' });
        }
      },
    };
  }

  prompt<A extends SchemaInput | undefined = undefined>(def: PromptDefinition<A>): Handle {
    if (this.prompts.has(def.name)) throw new Error(`prompt "${def.name}" is already registered`);
    let args: PromptArgument[] = [];
    let validate: CompiledSchema<Record<string, unknown>> | undefined;
    if (Array.isArray(def.arguments)) {
      args = def.arguments;
    } else if (def.arguments) {
      validate = compileSchema<Record<string, unknown>>(def.arguments);
      const props = (validate.json.properties ?? {}) as Record<string, JsonObject>;
      const required = new Set((validate.json.required as string[] | undefined) ?? []);
      args = Object.entries(props).map(([name, p]) => {
        const a: PromptArgument = { name };
        if (typeof p.description === 'string') a.description = p.description;
        if (typeof p.title === 'string') a.title = p.title;
        a.required = required.has(name);
        return a;
      });
    }
    const listing: JsonObject = { name: def.name };
    copyOptional(listing, def, ['title', 'description', 'icons']);
    if (args.length) listing.arguments = args;
    if (def._meta) listing._meta = def._meta;
    const entry: RegisteredPrompt = {
      name: def.name,
      listing,
      scopes: def.scopes ?? [],
      validate,
      requiredArgs: args.filter((a) => a.required).map((a) => a.name),
      def: def as PromptDefinition,
    };
    this.prompts.set(def.name, entry);
    this.#emit({ kind: 'prompts' });
    return {
      remove: () => {
        if (this.prompts.get(def.name) === entry && this.prompts.delete(def.name))
          this.#emit({ kind: 'prompts' });
      },
    };
  }
}

function copyOptional(target: JsonObject, source: object, keys: readonly string[]): void {
  const s = source as Record<string, unknown>;
  for (const k of keys) if (s[k] !== undefined) target[k] = s[k];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 9110 §5.1 field-name token

/**
 * Collects and checks `x-mcp-header` annotations (MCP 2026-07-28 streamable-http "Schema Extension"):
 * only on primitive (string, integer, boolean) properties reachable through `properties` alone, with
 * token names unique case-insensitively. A bad annotation is a registration error, not a runtime one.
 */
export function collectHeaderParams(tool: string, schema: JsonObject): HeaderParam[] {
  const out: HeaderParam[] = [];
  const seen = new Set<string>();
  const walk = (node: JsonObject, path: string[]) => {
    const props = node.properties;
    if (typeof props !== 'object' || props === null) return;
    for (const [key, child] of Object.entries(props as Record<string, unknown>)) {
      if (typeof child !== 'object' || child === null) continue;
      const c = child as JsonObject;
      const header = c['x-mcp-header'];
      if (header !== undefined) {
        if (typeof header !== 'string' || !TOKEN.test(header)) {
          throw new TypeError(
            `tool "${tool}": x-mcp-header on "${[...path, key].join('.')}" must be an HTTP token`,
          );
        }
        const lower = header.toLowerCase();
        if (seen.has(lower)) throw new TypeError(`tool "${tool}": x-mcp-header "${header}" is used twice`);
        const type = c.type;
        if (type !== 'string' && type !== 'integer' && type !== 'boolean') {
          throw new TypeError(
            `tool "${tool}": x-mcp-header "${header}" needs a string, integer or boolean property`,
          );
        }
        seen.add(lower);
        out.push({ name: lower, path: [...path, key], type });
      }
      walk(c, [...path, key]);
    }
  };
  walk(schema, []);
  return out;
}
