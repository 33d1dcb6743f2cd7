// Newline framing of the stdio transport: lines split across chunks, CRLF, blank lines, the size cap
// and invalid UTF-8.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LineSplitter } from '../../src/transport/stdio/lines.ts';

function splitter(max = 64) {
  const events: string[] = [];
  const s = new LineSplitter(max, {
    line: (t) => events.push(`line:${t}`),
    oversize: () => events.push('oversize'),
    invalid: () => events.push('invalid'),
  });
  return { s, events };
}

describe('LineSplitter', () => {
  test('lines split across chunks and several lines in one chunk', () => {
    const { s, events } = splitter();
    s.push(Buffer.from('{"a":'));
    s.push(Buffer.from('1}\n{"b":2}\n{"c"'));
    s.push(Buffer.from(':3}\n'));
    assert.deepEqual(events, ['line:{"a":1}', 'line:{"b":2}', 'line:{"c":3}']);
  });

  test('CRLF is tolerated and blank lines are skipped', () => {
    const { s, events } = splitter();
    s.push(Buffer.from('one\r\n\r\n   \ntwo\n\n'));
    assert.deepEqual(events, ['line:one', 'line:two']);
  });

  test('a multi-byte character split between chunks survives', () => {
    const { s, events } = splitter();
    const bytes = Buffer.from('"héllo ✓"\n');
    s.push(bytes.subarray(0, 3));
    s.push(bytes.subarray(3, 11));
    s.push(bytes.subarray(11));
    assert.deepEqual(events, ['line:"héllo ✓"']);
  });

  test('the final line needs no newline', () => {
    const { s, events } = splitter();
    s.push(Buffer.from('first\nlast'));
    s.end();
    assert.deepEqual(events, ['line:first', 'line:last']);
  });

  test('a line over the cap is reported once and discarded whole, in one chunk or many', () => {
    const { s, events } = splitter(8);
    s.push(Buffer.from('12345678\n123456789\nok\n'));
    assert.deepEqual(events, ['line:12345678', 'oversize', 'line:ok']);
    events.length = 0;
    s.push(Buffer.from('12345'));
    s.push(Buffer.from('67890'));
    s.push(Buffer.from('abcdef'));
    s.push(Buffer.from('gh\nafter\n'));
    s.end();
    assert.deepEqual(events, ['oversize', 'line:after']);
  });

  test('invalid UTF-8 is reported instead of decoded with replacement characters', () => {
    const { s, events } = splitter();
    s.push(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]));
    s.push(Buffer.from('{}\n'));
    assert.deepEqual(events, ['invalid', 'line:{}']);
  });
});
