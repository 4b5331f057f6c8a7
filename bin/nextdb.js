#!/usr/bin/env node
// The `nextdb` command. The CLI itself lives in src/cli (compiled to dist by
// `npm run build`, which `npm ci` runs through the prepare script).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
