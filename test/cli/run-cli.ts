// Runs the `nextdb` command from TypeScript sources (tests spawn this with
// `node --import tsx`), as bin/nextdb.js runs the compiled one.
import { main } from '../../src/cli/main.ts';

main(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
