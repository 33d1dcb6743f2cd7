// Opaque cursors for list methods (MCP server/utilities/pagination): clients MUST treat them as
// opaque; an invalid cursor is -32602.

import { ErrorCode, McpError } from './jsonrpc.ts';

export function paginate<T>(
  items: readonly T[],
  cursor: unknown,
  pageSize: number,
): { page: T[]; nextCursor?: string } {
  let start = 0;
  if (cursor !== undefined) {
    if (typeof cursor !== 'string') throw new McpError(ErrorCode.InvalidParams, 'Invalid cursor');
    const m = /^o(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
    if (!m) throw new McpError(ErrorCode.InvalidParams, 'Invalid cursor');
    start = Number(m[1]);
    if (start > items.length) throw new McpError(ErrorCode.InvalidParams, 'Invalid cursor');
  }
  const end = start + pageSize;
  const page = items.slice(start, end);
  return end < items.length
    ? { page, nextCursor: Buffer.from(`o${end}`, 'latin1').toString('base64url') }
    : { page };
}
