import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage } from '../../src/storage/memory/index.ts';
import { openStorage } from '../../src/storage/open.ts';
import { storageContract } from './contract.ts';

storageContract('memory', () => openStorage({ kind: 'memory' }));

test('memory audit keeps the newest records up to its cap', async () => {
  const s = new MemoryStorage({ maxAuditRecords: 3 });
  for (let i = 0; i < 5; i++) await s.audit.append(`e${i}`, {}, i);
  assert.deepEqual(
    (await s.audit.tail(10)).map((r) => [r.id, r.type]),
    [
      [3, 'e2'],
      [4, 'e3'],
      [5, 'e4'],
    ],
  );
  assert.deepEqual(
    (await s.audit.tail(10, 4)).map((r) => r.type),
    ['e4'],
  );
});

test('memory ping fails after close', async () => {
  const s = await openStorage({ kind: 'memory' });
  await s.ping();
  await s.close();
  await assert.rejects(s.ping());
});
