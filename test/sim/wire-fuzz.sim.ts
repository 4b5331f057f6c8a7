// Long protocol fuzz sweeps against an in-process server (see
// test/server/wire-fuzz.ts). Usage:
//   npm run sim -- wire-fuzz --seeds 50      seeds 1..50, 200 cases each
//   npm run sim -- wire-fuzz --seed 17       replay one seed
//   npm run sim -- wire-fuzz --sql --seeds 20 against the real SQL engine; any
//                                            internal error (XX000) it logs fails the sweep
// Prints the seed of any failure; the same seed replays the same streams
// (timing of the server's replies may differ, the streams do not).
import pino from 'pino';
import { Writable } from 'node:stream';
import { startTestServer } from '../server/harness.ts';
import { fakeDialect, fuzzServer, sqlDialect } from '../server/wire-fuzz.ts';
import { SqlEngine } from '../../src/sql/index.ts';
import { MemoryEngine } from '../../src/storage/memory-engine.ts';
import { arg, hasFlag, seedsFromArgs } from './sim-args.ts';

const seeds = seedsFromArgs(10);
const cases = Number(arg('--cases') ?? 200);

let failed = 0;
process.on('uncaughtException', (e) => {
  console.error('uncaught exception in server:', e);
  process.exit(1);
});
const useSql = hasFlag('--sql');
const internalErrors: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    internalErrors.push(chunk.toString());
    cb();
  },
});
const engine = new MemoryEngine();
const sql = useSql ? await SqlEngine.open({ engine }) : undefined;
const ts = await startTestServer({
  limits: { maxMessageBytes: 1 << 20 },
  logger: pino({ level: 'error' }, sink),
  ...(sql === undefined ? {} : { provider: sql, engine }),
});
try {
  for (const seed of seeds) {
    const before = internalErrors.length;
    try {
      await fuzzServer(ts.port, seed, cases, 4, 30, useSql ? sqlDialect : fakeDialect);
      if (internalErrors.length > before)
        throw new Error(`internal errors logged: ${internalErrors.slice(before).join('')}`);
    } catch (err) {
      failed++;
      console.error(`wire-fuzz: FAILED seed ${seed}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
} finally {
  await ts.stop();
  await sql?.close();
}
console.log(`wire-fuzz: ${seeds.length - failed}/${seeds.length} seeds passed (${cases} cases each)`);
process.exit(failed ? 1 : 0);
