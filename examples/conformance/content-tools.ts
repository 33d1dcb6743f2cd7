// Tools that return each content type, report progress and log messages, or fail: the basic
// tools/call scenarios of both conformance suites.

import { setTimeout as sleep } from 'node:timers/promises';
import type { McpServer } from '../../src/server/server.ts';
import { PNG_1X1, WAV_TONE } from './media.ts';

const STEP_DELAY_MS = 50;

export function registerContentTools(server: McpServer): void {
  // First in tools/list on purpose: header-validation scenarios call the first tool with `arguments: {}`.
  server.tool({
    name: 'test_simple_text',
    description: 'Returns one text content block',
    handler: () => ({ content: [{ type: 'text', text: 'This is a simple text response for testing.' }] }),
  });

  server.tool({
    name: 'test_image_content',
    description: 'Returns one image content block (PNG)',
    handler: () => ({ content: [{ type: 'image', data: PNG_1X1, mimeType: 'image/png' }] }),
  });

  server.tool({
    name: 'test_audio_content',
    description: 'Returns one audio content block (WAV)',
    handler: () => ({ content: [{ type: 'audio', data: WAV_TONE, mimeType: 'audio/wav' }] }),
  });

  server.tool({
    name: 'test_embedded_resource',
    description: 'Returns an embedded text resource',
    handler: () => ({
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    }),
  });

  server.tool({
    name: 'test_multiple_content_types',
    description: 'Returns text, image and embedded resource content together',
    handler: () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG_1X1, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  });

  server.tool({
    name: 'test_tool_with_logging',
    description: 'Sends three info log messages while it runs',
    handler: async (_args, ctx) => {
      ctx.log('info', 'Tool execution started', 'conformance');
      await sleep(STEP_DELAY_MS, undefined, { signal: ctx.signal });
      ctx.log('info', 'Tool processing data', 'conformance');
      await sleep(STEP_DELAY_MS, undefined, { signal: ctx.signal });
      ctx.log('info', 'Tool execution completed', 'conformance');
      return 'Tool with logging executed successfully';
    },
  });

  server.tool({
    name: 'test_tool_with_progress',
    description: 'Reports progress 0, 50 and 100 of 100 when the request carries a progressToken',
    handler: async (_args, ctx) => {
      for (const done of [0, 50, 100]) {
        if (done > 0) await sleep(STEP_DELAY_MS, undefined, { signal: ctx.signal });
        ctx.progress(done, 100, `Completed step ${done} of 100`);
      }
      return 'Progress test completed';
    },
  });

  server.tool({
    name: 'test_error_handling',
    description: 'Always fails; the failure is reported as a tool execution error (isError)',
    handler: () => {
      throw new Error('This tool intentionally returns an error for testing');
    },
  });

  server.tool({
    name: 'test_reconnection',
    description: 'Closes its SSE stream mid-call so the client reconnects and resumes it (SEP-1699 polling)',
    handler: async (_args, ctx) => {
      // 2025-11-25 sessions: the connection drops here and the result arrives on the resumed stream.
      ctx.closeStream();
      await sleep(STEP_DELAY_MS, undefined, { signal: ctx.signal });
      return 'Reconnection test completed successfully.';
    },
  });
}
