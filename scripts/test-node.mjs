#!/usr/bin/env node
// Runs the test suite on another Node.js version, in place, e.g.
//   npm run test:node -- 22            every test file on the newest Node 22
//   npm run test:node -- 24 server/    test files whose path contains server/
//   npm run test:node -- 22.23.3 ...   an exact version
// The binary comes from the npm registry's node-<platform>-<arch> package,
// which carries the node executable itself (the `node` package's installer
// downloads from elsewhere). It is unpacked into a temporary directory that is
// removed afterwards; NEXTDB_TEST_NODE_DIR=<dir> keeps it there instead (and
// reuses it when <dir>/package/bin/node exists). That node comes first on
// PATH, so the servers, CLIs and psql-driven tests that spawn `node` or `npx`
// run on it too. Not part of `npm test` or CI.
//
// The installed native dependencies (lz4-napi, classic-level, libpg-query)
// are N-API modules, which load on every Node version. better-sqlite3, used
// only by the peer benchmarks in bench/, is built for the Node that ran
// `npm ci`; for a clean install on the other version, clone the repository
// and run `npm ci` there with that node first on PATH and
// npm_config_nodedir=<dir>/package (the package ships Node's headers).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const [version, ...filters] = process.argv.slice(2);
if (version === undefined || !/^\d+(\.\d+){0,2}$/.test(version)) {
  console.error('usage: npm run test:node -- <node version, e.g. 22 or 24.1.0> [test file filters...]');
  process.exit(2);
}

const keep = process.env.NEXTDB_TEST_NODE_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), `nextdb-node${version}-`));
const nodeBin = join(dir, 'package', 'bin');
let status = 1;
try {
  if (!existsSync(join(nodeBin, 'node'))) {
    mkdirSync(dir, { recursive: true });
    const pkg = `node-${process.platform}-${process.arch}@${version}`;
    console.log(`fetching ${pkg} from the npm registry into ${dir}`);
    const pack = spawnSync('npm', ['pack', pkg, '--pack-destination', dir, '--silent'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const tarball = pack.stdout.trim().split('\n').pop();
    if (pack.status !== 0 || !tarball) throw new Error(`npm pack ${pkg} failed`);
    const untar = spawnSync('tar', ['xzf', join(dir, tarball), '-C', dir], { stdio: 'inherit' });
    if (untar.status !== 0) throw new Error(`could not unpack ${tarball}`);
    rmSync(join(dir, tarball));
  }
  const node = join(nodeBin, 'node');
  const v = spawnSync(node, ['--version'], { encoding: 'utf8' });
  console.log(`running the tests on node ${v.stdout.trim()} (${node})`);
  const r = spawnSync(node, [join(root, 'scripts', 'run-tests.mjs'), ...filters], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${nodeBin}:${process.env.PATH ?? ''}` },
  });
  status = r.status ?? 1;
} catch (err) {
  console.error(String(err instanceof Error ? err.message : err));
} finally {
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
