// Loaded before every test file (`node --test --import ./test/support/watchdog.ts`, see package.json).
// A test file whose tests have all finished but that keeps handles open (a server, a socket, a child
// process left behind by a test that timed out) would keep its process, and so the whole run, waiting
// forever. Once every test of the file has finished, this gives the process a grace period to exit by
// itself and then ends it, saying so. Node's --test-force-exit is not used instead: it ends a file as
// soon as the tests *known so far* have finished, which silently dropped tests registered later (a
// suite's subtests) from runs of this project.

import { after } from 'node:test';

const GRACE_MS = 10_000;

after(() => {
  const timer = setTimeout(() => {
    process.stderr.write(
      `watchdog: ${process.argv[1] ?? 'this test file'} was still running ${GRACE_MS / 1000} s after its ` +
        'tests finished (open handles); ending it\n',
    );
    // Failed or cancelled tests are reported to the runner already and fail the run by themselves.
    process.exit(process.exitCode ?? 0);
  }, GRACE_MS);
  // The timer alone never keeps the process alive.
  timer.unref();
});
