// Reading the client's answers to input requests. One shape serves both eras: in 2026-07-28 they
// arrive as `inputResponses` on the retried request, in legacy sessions the engine collects them
// from real server-to-client requests (MCP 2026-07-28 basic/patterns/mrtr).

import { isObject, type JsonObject, type JsonValue } from '../../src/protocol/jsonrpc.ts';
import type { HandlerContext } from '../../src/server/context.ts';

/** The `content` of an accepted elicitation (ElicitResult), or undefined if absent, declined or cancelled. */
export function acceptedContent(ctx: HandlerContext, key: string): JsonObject | undefined {
  const answer = ctx.inputResponses?.[key];
  if (answer?.action !== 'accept') return undefined;
  return isObject(answer.content) ? answer.content : {};
}

/** A string field of an accepted elicitation, or undefined. */
export function acceptedString(ctx: HandlerContext, key: string, field: string): string | undefined {
  const value = acceptedContent(ctx, key)?.[field];
  return typeof value === 'string' ? value : undefined;
}

/** The elicitation action the client answered with (accept, decline, cancel), if it answered `key`. */
export function answerAction(ctx: HandlerContext, key: string): string | undefined {
  const action = ctx.inputResponses?.[key]?.action;
  return typeof action === 'string' ? action : undefined;
}

/** The text of a CreateMessageResult (content is one block, or an array of blocks since 2025-11-25). */
export function sampledText(ctx: HandlerContext, key: string): string | undefined {
  const answer = ctx.inputResponses?.[key];
  if (!answer) return undefined;
  const blocks = Array.isArray(answer.content) ? answer.content : [answer.content];
  for (const block of blocks) {
    if (isObject(block) && block.type === 'text' && typeof block.text === 'string') return block.text;
  }
  return undefined;
}

/** How many roots a ListRootsResult carried, or undefined if `key` was not answered. */
export function rootCount(ctx: HandlerContext, key: string): number | undefined {
  const answer = ctx.inputResponses?.[key];
  if (!answer) return undefined;
  return Array.isArray(answer.roots) ? answer.roots.length : 0;
}

/** The verified state of the previous round as an object, or undefined on a first attempt. */
export function roundState(ctx: HandlerContext): { [key: string]: JsonValue } | undefined {
  const state = ctx.requestState;
  return isObject(state) ? (state as { [key: string]: JsonValue }) : undefined;
}
