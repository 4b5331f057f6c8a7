// Child process of crash-process.test.ts: opens the LSM engine on a real
// directory and writes the deterministic OpStream forever, printing
// "ack <n>" after each sync() that made the first n ops durable. The parent
// kills it with SIGKILL at a random moment. (stdout to a pipe is synchronous
// on Linux, so an "ack" line is out before the next write starts.)
import { openLsmEngine } from '../../src/storage/lsm/index.ts';
import { applyOp, OpStream } from './crash.lib.ts';

const [dir, seed, tag] = process.argv.slice(2);
if (dir === undefined || seed === undefined || tag === undefined)
  throw new Error('usage: crash-writer <dir> <seed> <tag>');
const engine = await openLsmEngine({
  dir,
  memtableBytes: 32 * 1024,
  tableBytes: 32 * 1024,
  l1MaxBytes: 128 * 1024,
  l0CompactionTrigger: 3,
});
process.stdout.write(`ready ${process.pid}\n`);
const stream = new OpStream(Number(seed), tag);
for (let i = 1; ; i++) {
  applyOp(engine, stream.next());
  if (i % 10 === 0) {
    await engine.sync();
    process.stdout.write(`ack ${i}\n`);
  }
}
