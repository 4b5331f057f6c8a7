/**
 * The compaction worker starts the way users run NextDB: compiled JavaScript
 * (what `npm run build` and the npm package ship), imported by a script outside
 * the repository and run by plain `node` in the ways people run scripts (a
 * file, a script piped to `node --input-type=module`, `-e`, a .ts file under
 * tsx). When the worker cannot start, the engine emits one warning
 * (NEXTDB_COMPACTION_WORKER) and compacts on the event loop.
 *
 * The engine is transpiled afresh into a temp dir (the layout of dist/src,
 * .ts imports rewritten to .js) so the test exercises the current sources, not
 * whatever dist was last built.
 */

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { workerExecArgv, workerLoaderExecArgv } from '../../src/storage/lsm/lsm-engine.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
let tmp = '';

function transpileTree(srcDir: string, outDir: string): void {
  for (const name of readdirSync(srcDir)) {
    const p = join(srcDir, name);
    if (statSync(p).isDirectory()) {
      transpileTree(p, join(outDir, name));
      continue;
    }
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
    const out = ts.transpileModule(readFileSync(p, 'utf8'), {
      fileName: p,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
        rewriteRelativeImportExtensions: true,
      },
    });
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, name.replace(/\.ts$/, '.js')), out.outputText);
  }
}

/** Writes lots of small tables, waits for the compactions, checks the data, prints stats and warnings as JSON. */
function scriptText(engineUrl: string, dataDir: string): string {
  return `
const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
const { openLsmEngine } = await import(${JSON.stringify(engineUrl)});
const e = await openLsmEngine({ dir: ${JSON.stringify(dataDir)}, memtableBytes: 16 << 10, tableBytes: 16 << 10, l0CompactionTrigger: 2, l1MaxBytes: 64 << 10 });
const key = (i) => Buffer.from('k' + String((i * 7919) % 3000).padStart(6, '0'));
for (let i = 0; i < 3000; i++) {
  e.put(key(i), Buffer.from('v' + i + 'x'.repeat(60)));
  if (i % 250 === 249) await new Promise((r) => setTimeout(r, 1));
}
await e.compact();
let missing = 0;
for (let i = 0; i < 3000; i++) if (e.get(key(i))?.toString().startsWith('v' + i + 'x') !== true) missing++;
const s = e.stats();
await e.close();
await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ compactions: s.compactions, workerCompactions: s.workerCompactions, compactionWorkerFailed: s.compactionWorkerFailed, missing, warnings }));
`;
}

interface Outcome {
  compactions: number;
  workerCompactions: number;
  compactionWorkerFailed: number;
  missing: number;
  warnings: { code?: string; message: string }[];
}

/** Runs node with `args` in the temp dir (outside the repo), optionally feeding `stdin`; parses the last stdout line. */
function runNode(args: string[], stdin?: string): Promise<Outcome> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: tmp, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{'))
        reject(new Error(`node ${args.join(' ')} exited ${code}\n${out}\n${err}`));
      else resolve(JSON.parse(last) as Outcome);
    });
    child.stdin.end(stdin ?? '');
  });
}

let n = 0;
function dataDir(): string {
  return join(tmp, `data-${n++}`);
}

function assertWorkerRan(o: Outcome): void {
  assert.equal(o.missing, 0);
  assert.ok(o.compactions > 0, 'compactions ran');
  assert.equal(o.workerCompactions, o.compactions, 'every merging compaction ran on the worker');
  assert.equal(o.compactionWorkerFailed, 0);
  assert.deepEqual(o.warnings, []);
}

before(() => {
  tmp = mkdtempSync('/tmp/nextdb-h1-worker-');
  transpileTree(join(repo, 'src/storage'), join(tmp, 'dist/src/storage'));
  transpileTree(join(repo, 'src/util'), join(tmp, 'dist/src/util'));
  writeFileSync(join(tmp, 'package.json'), '{ "type": "module", "private": true }\n');
  // Bare imports (lz4-napi, sorted-btree, tsx) resolve from the repo's dependencies, as from an installed package's.
  symlinkSync(join(repo, 'node_modules'), join(tmp, 'node_modules'));
});

after(() => {
  if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
});

test('workerExecArgv drops the options a worker started from a file rejects', () => {
  assert.deepEqual(workerExecArgv(['--input-type=module', '--enable-source-maps']), ['--enable-source-maps']);
  assert.deepEqual(workerExecArgv(['--input-type', 'module', '-e', 'x()', '--import', 'tsx']), ['--import', 'tsx']);
  assert.deepEqual(workerExecArgv(['-p', '1+1', '--max-old-space-size=100']), ['--max-old-space-size=100']);
});

test('workerLoaderExecArgv keeps only the options of module loading', () => {
  // What Node 24's test runner hands a test process (an excerpt): a worker refuses the V8 and process-wide ones.
  const argv = ['--stack-trace-limit=10', '--import=tsx', '--v8-pool-size=4', '--experimental-addon-modules'];
  assert.deepEqual(workerLoaderExecArgv([...argv, '--secure-heap=0', '--import', 'tsx', '--conditions', 'dev']), [
    '--import=tsx',
    '--experimental-addon-modules',
    '--import',
    'tsx',
    '--conditions',
    'dev',
  ]);
  assert.deepEqual(workerLoaderExecArgv(['-r', 'pnp.cjs', '--enable-source-maps', '--max-old-space-size=100']), [
    '-r',
    'pnp.cjs',
    '--enable-source-maps',
  ]);
});

// Each case is mostly a node start-up: run them side by side.
describe('compaction worker outside the repo', { concurrency: 5 }, () => {
  test('compiled engine outside the repo: compaction runs on the worker from a plain .mjs file', async () => {
    const engine = pathToFileURL(join(tmp, 'dist/src/storage/lsm/index.js')).href;
    const file = join(tmp, 'plain.mjs');
    writeFileSync(file, scriptText(engine, dataDir()));
    assertWorkerRan(await runNode([file]));
  });

  test('compiled engine outside the repo: compaction runs on the worker from a script piped to node --input-type=module', async () => {
    const engine = pathToFileURL(join(tmp, 'dist/src/storage/lsm/index.js')).href;
    assertWorkerRan(await runNode(['--input-type=module'], scriptText(engine, dataDir())));
  });

  test('compiled engine outside the repo: compaction runs on the worker from node --input-type=module -e', async () => {
    const engine = pathToFileURL(join(tmp, 'dist/src/storage/lsm/index.js')).href;
    assertWorkerRan(await runNode(['--input-type=module', '-e', scriptText(engine, dataDir())]));
  });

  test('compiled engine outside the repo: compaction runs on the worker from a .ts script under tsx', async () => {
    const engine = pathToFileURL(join(tmp, 'dist/src/storage/lsm/index.js')).href;
    const file = join(tmp, 'script.ts');
    writeFileSync(file, `export {};\n${scriptText(engine, dataDir())}`);
    assertWorkerRan(await runNode(['--import', 'tsx', file]));
  });

  test('compiled engine outside the repo: compaction runs on the worker when node has options a worker refuses', async () => {
    const engine = pathToFileURL(join(tmp, 'dist/src/storage/lsm/index.js')).href;
    const file = join(tmp, 'v8-options.mjs');
    writeFileSync(file, scriptText(engine, dataDir()));
    assertWorkerRan(await runNode(['--stack-trace-limit=20', '--v8-pool-size=2', file]));
  });

  test('a worker that cannot start: one NEXTDB_COMPACTION_WORKER warning, compactions on the event loop, data intact', async () => {
    const lsm = join(tmp, 'dist-noworker/src/storage/lsm');
    transpileTree(join(repo, 'src/storage'), join(tmp, 'dist-noworker/src/storage'));
    transpileTree(join(repo, 'src/util'), join(tmp, 'dist-noworker/src/util'));
    unlinkSync(join(lsm, 'compaction-worker.js'));
    const file = join(tmp, 'noworker.mjs');
    writeFileSync(file, scriptText(pathToFileURL(join(lsm, 'index.js')).href, dataDir()));
    const o = await runNode([file]);
    assert.equal(o.missing, 0);
    assert.ok(o.compactions > 0, 'compactions ran');
    assert.equal(o.workerCompactions, 0);
    assert.equal(o.compactionWorkerFailed, 1);
    assert.equal(o.warnings.length, 1, JSON.stringify(o.warnings));
    assert.equal(o.warnings[0]!.code, 'NEXTDB_COMPACTION_WORKER');
    assert.match(o.warnings[0]!.message, /compaction worker .*main thread/);
  });
});
