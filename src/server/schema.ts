// Input and output schemas: zod or plain JSON Schema, compiled once at registration so the request
// path only runs a prepared validator.

import { Ajv2020 } from 'ajv/dist/2020.js';
import * as z from 'zod';
import type { JsonObject } from '../protocol/jsonrpc.ts';

/** A JSON Schema object (2020-12 by default; MCP 2026-07-28 server/tools "inputSchema"). */
export type JsonSchema = JsonObject;

/** What a tool or prompt accepts as a schema: a zod type or a JSON Schema object. */
export type SchemaInput = z.ZodType | JsonSchema;

export type Infer<S> = S extends z.ZodType ? z.output<S> : Record<string, unknown>;

export type Validation<T> = { ok: true; value: T } | { ok: false; message: string };

export interface CompiledSchema<T = unknown> {
  /** The JSON Schema advertised to clients. */
  readonly json: JsonSchema;
  validate(value: unknown): Validation<T>;
}

let ajv: Ajv2020 | undefined;
function getAjv(): Ajv2020 {
  // strict: false — MCP schemas carry annotations such as `x-mcp-header` that Ajv would reject.
  ajv ??= new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  return ajv;
}

function isZod(schema: unknown): schema is z.ZodType {
  return typeof schema === 'object' && schema !== null && '_zod' in schema;
}

export function compileSchema<T = unknown>(schema: SchemaInput): CompiledSchema<T> {
  if (isZod(schema)) {
    const json = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io: 'input',
      unrepresentable: 'any',
    }) as JsonSchema;
    return {
      json,
      validate(value) {
        const r = schema.safeParse(value);
        if (r.success) return { ok: true, value: r.data as T };
        return { ok: false, message: z.prettifyError(r.error) };
      },
    };
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new TypeError('a schema must be a zod type or a JSON Schema object');
  }
  const fn = getAjv().compile(schema);
  return {
    json: schema,
    validate(value) {
      if (fn(value)) return { ok: true, value: value as T };
      const e = fn.errors?.[0];
      const where = e?.instancePath ? e.instancePath : '(root)';
      return { ok: false, message: `${where} ${e?.message ?? 'is invalid'}` };
    },
  };
}

/** The schema of a tool that takes no arguments. */
export const EMPTY_OBJECT_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {},
  additionalProperties: false,
};
