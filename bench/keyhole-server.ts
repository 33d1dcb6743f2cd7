// Keyhole serving the bench's `echo` tool on /mcp (both eras on one endpoint), as an application
// would: McpServer -> Engine -> createHttpApp.
//
// Bench-only hook (never in src/): with KEYHOLE_BENCH_HOOKS=1, node --expose-gc and an IPC channel,
// the message {op: 'memory'} forces full garbage collections and answers with process.memoryUsage().

import { Engine } from '../src/protocol/engine.ts';
import { createHttpApp } from '../src/transport/http/app.ts';
import { announce, benchPort, exitWithParent } from './lib/announce.ts';
import { echoServer } from './lib/echo.ts';

const engine = new Engine(echoServer());
const app = createHttpApp(engine, { port: benchPort() });
await app.listen();
announce(app.address());

if (process.env.KEYHOLE_BENCH_HOOKS === '1' && process.send) {
  process.on('message', (m: { op?: string }) => {
    if (m?.op !== 'memory') return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('KEYHOLE_BENCH_HOOKS needs node --expose-gc');
    // Several passes: weak references and finalizers free more on the second and third.
    for (let i = 0; i < 3; i++) gc();
    const u = process.memoryUsage();
    process.send?.({
      op: 'memory',
      heapUsed: u.heapUsed,
      external: u.external,
      arrayBuffers: u.arrayBuffers,
      rss: u.rss,
    });
  });
}

exitWithParent(() => {
  engine.close();
  void app.close();
});
