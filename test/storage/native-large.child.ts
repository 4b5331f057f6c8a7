// Child process of native-large.test.ts (a crash here must not take the test runner with it): opens a sparse
// file larger than 4 GiB through NodeVfs, maps it if it can, and checks bytes and a CRC past the 4 GiB mark.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { NodeVfs } from '../../src/storage/node-vfs.ts';
import { crc32 } from '../../src/util/crc32.ts';

const file = process.argv[2]!;
const marker = Buffer.from('bytes past 4 GiB');
const at = 2 ** 32 + 100;
const fd = fs.openSync(file, 'w+');
fs.writeSync(fd, marker, 0, marker.length, at);
fs.ftruncateSync(fd, 2 ** 32 + 65536);
fs.closeSync(fd);
const f = new NodeVfs().open(file);
const m = f.map?.();
if (m !== undefined) {
  if (m.length !== f.size()) throw new Error(`mapping of ${m.length} bytes, file of ${f.size()}`);
  if (crc32(m, at, at + marker.length) !== zlib.crc32(marker)) throw new Error('crc32 past 4 GiB in a mapping');
}
const got = Buffer.alloc(marker.length);
f.read(got, 0, got.length, at);
if (!got.equals(marker)) throw new Error('read past 4 GiB');
f.close();
console.log(`ok ${m === undefined ? 'pread' : 'mapped'}`);
