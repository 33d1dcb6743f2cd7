// Resources and the resource template of the resources-* scenarios.

import type { McpServer } from '../../src/server/server.ts';
import { PNG_1X1 } from './media.ts';

export function registerResources(server: McpServer): void {
  // First in resources/list on purpose: the caching scenario reads the first listed resource.
  server.resource({
    uri: 'test://static-text',
    name: 'static-text',
    title: 'Static Text Resource',
    description: 'A static text resource',
    mimeType: 'text/plain',
    read: (uri) => [
      { uri, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
    ],
  });

  server.resource({
    uri: 'test://static-binary',
    name: 'static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (a PNG image)',
    mimeType: 'image/png',
    read: (uri) => [{ uri, mimeType: 'image/png', blob: PNG_1X1 }],
  });

  server.resource({
    uri: 'test://watched-resource',
    name: 'watched-resource',
    title: 'Watched Resource',
    description: 'A resource clients can subscribe to',
    mimeType: 'text/plain',
    read: (uri) => [{ uri, mimeType: 'text/plain', text: 'Watched resource content' }],
  });

  server.resourceTemplate({
    uriTemplate: 'test://template/{id}/data',
    name: 'template',
    title: 'Resource Template',
    description: 'Data for one id, substituted into the URI',
    mimeType: 'application/json',
    complete: { id: (value) => ['1', '42', '123'].filter((id) => id.startsWith(value)) },
    read: (uri, { id }) => [
      {
        uri,
        mimeType: 'application/json',
        text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
      },
    ],
  });
}
