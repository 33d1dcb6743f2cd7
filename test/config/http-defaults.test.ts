// The HTTP transport's library defaults and the server configuration's defaults are one set of values.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpOptions } from '../../src/app/keyhole.ts';
import { DEFAULTS } from '../../src/config/defaults.ts';
import { DEFAULT_HTTP_OPTIONS } from '../../src/transport/http/options.ts';

test('createHttpApp defaults equal the configuration defaults', () => {
  const fromConfig = httpOptions(structuredClone(DEFAULTS));
  const { publicUrl, ...rest } = fromConfig;
  assert.equal(publicUrl, undefined);
  assert.deepEqual(rest, { ...DEFAULT_HTTP_OPTIONS });
});
