// The in-memory event store behind Last-Event-ID replay: per-stream order, bounds, and event ids that
// name their stream (MCP 2025-11-25 transports "Resumability and Redelivery").

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventId, MemoryEventStore, parseEventId } from '../../../src/transport/http/event-store.ts';

const event = (stream: string, seq: number, data = `m${seq}`) => ({ seq, id: eventId(stream, seq), data });

describe('event ids', () => {
  test('encode the stream and round-trip', () => {
    assert.deepEqual(parseEventId(eventId('1a', 7)), { streamId: '1a', seq: 7 });
    assert.deepEqual(parseEventId('0.12'), { streamId: '0', seq: 12 });
  });

  test('anything else is not an event id', () => {
    for (const bad of ['', '7', '.7', '1.', '1.x', 'A.1', '1.1e3', '../1', `1.${'9'.repeat(16)}`]) {
      assert.equal(parseEventId(bad), undefined, bad);
    }
  });
});

describe('MemoryEventStore', () => {
  test('replays a stream after a position, in order, and nothing of other streams or sessions', () => {
    const store = new MemoryEventStore();
    for (let i = 1; i <= 4; i++) store.append('s1', '1', event('1', i));
    store.append('s1', '2', event('2', 1));
    store.append('s2', '1', event('1', 1, 'other session'));
    assert.deepEqual(
      store.after('s1', '1', 2)?.map((e) => e.data),
      ['m3', 'm4'],
    );
    assert.deepEqual(store.after('s1', '1', 4), []);
    assert.equal(store.after('s1', '9', 0), undefined);
    assert.equal(store.after('s3', '1', 0), undefined);
  });

  test('keeps at most maxEventsPerStream events per stream, newest last', () => {
    const store = new MemoryEventStore({ maxEventsPerStream: 3 });
    for (let i = 1; i <= 10; i++) store.append('s', '0', event('0', i));
    assert.deepEqual(
      store.after('s', '0', 0)?.map((e) => e.seq),
      [8, 9, 10],
    );
  });

  test('over the byte budget, the oldest other streams go first', () => {
    const store = new MemoryEventStore({ maxBytesPerSession: 10 });
    store.append('s', '1', event('1', 1, 'aaaa'));
    store.append('s', '2', event('2', 1, 'bbbb'));
    store.append('s', '3', event('3', 1, 'cccc'));
    assert.equal(store.after('s', '1', 0), undefined);
    assert.deepEqual(
      store.after('s', '3', 0)?.map((e) => e.data),
      ['cccc'],
    );
  });

  test('one large stream is trimmed to its newest event rather than growing without bound', () => {
    const store = new MemoryEventStore({ maxBytesPerSession: 10 });
    for (let i = 1; i <= 5; i++) store.append('s', '1', event('1', i, 'xxxxxx'));
    assert.deepEqual(
      store.after('s', '1', 0)?.map((e) => e.seq),
      [5],
    );
  });

  test('dropping a stream or a session forgets it', () => {
    const store = new MemoryEventStore();
    store.append('s', '1', event('1', 1));
    store.append('s', '2', event('2', 1));
    store.dropStream('s', '1');
    assert.equal(store.after('s', '1', 0), undefined);
    assert.equal(store.after('s', '2', 0)?.length, 1);
    store.dropSession('s');
    assert.equal(store.after('s', '2', 0), undefined);
  });
});
