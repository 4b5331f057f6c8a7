// Runs the nextdb CLI from source (node --import tsx test/server/run-cli.ts server ...),
// so end-to-end tests exercise src/ without a build step.
//
// A test that dies (timeout, Ctrl-C, crash) cannot stop the servers it
// started, so each one watches its parent and ends itself when orphaned:
// no test leaves a server behind.
import { main } from '../../src/cli/main.ts';

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
}, 500).unref();

await main(process.argv);
