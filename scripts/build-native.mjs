#!/usr/bin/env node
// Builds nextdb's optional native helpers (native/nextdb.c: mmap'd table reads,
// a fast CRC-32) into build/nextdb.node with the system C compiler and the
// running Node's Node-API headers. Run by `npm ci`/`npm install` (the
// `install` script) and by `npm run build:native`.
//
// Optional by design: without a compiler, without the headers, or on a
// platform other than Linux/macOS, it prints why and exits 0; NextDB then
// reads tables with pread and checksums with zlib.crc32 (same results,
// slower). NEXTDB_NATIVE=0 skips the build (and the loading: src/util/native.ts).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'native', 'nextdb.c');
const outDir = path.join(root, 'build');
const out = path.join(outDir, 'nextdb.node');

function skip(why) {
  console.log(`nextdb: native helpers not built (${why}); tables are read with pread and checksummed with zlib.crc32`);
  fs.rmSync(out, { force: true });
  process.exit(0);
}

if (process.env.NEXTDB_NATIVE === '0') skip('NEXTDB_NATIVE=0');
if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`platform ${process.platform}`);
if (!fs.existsSync(source)) skip(`${source} is missing`);

// Node-API headers: beside the running node (official tarballs), else the distribution's.
const candidates = [
  path.resolve(path.dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
];
const include = candidates.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
if (include === undefined) skip(`no node_api.h in ${candidates.join(', ')}`);

const cc = process.env.CC || 'cc';
const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-fPIC', '-shared', `-I${include}`, source, '-o', `${out}.tmp`];
if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
fs.mkdirSync(outDir, { recursive: true });
const r = spawnSync(cc, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.error !== undefined) skip(`${cc}: ${r.error.message}`);
if (r.status !== 0) skip(`${cc} exited with ${r.status}`);
fs.renameSync(`${out}.tmp`, out);
console.log(`nextdb: native helpers built: ${path.relative(root, out)}`);
