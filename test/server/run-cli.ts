// Runs the nextdb CLI from source (node --import tsx test/server/run-cli.ts server ...),
// so end-to-end tests exercise src/ without a build step.
import { main } from '../../src/cli/main.ts';

await main(process.argv);
