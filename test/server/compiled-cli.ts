// Compiles src/ to plain JavaScript in a temp directory, in the layout of
// dist/src, for benchmarks that start `nextdb server` as a child process.
//
// Why not tsx: tsx transpiles with esbuild's keepNames, which wraps every
// function and class created at run time in a `__name(fn, "name")` call
// (Object.defineProperty): 4-8% of a wire benchmark server's profile, a cost
// the installed command (plain node over dist/, built by tsc) does not pay.
// Why not tsc: type-checking the tree takes a minute on the 2-core machine;
// esbuild's per-file transform (the compiler tsx itself uses, without
// keepNames) takes about a second. Output is ES2022 modules like tsc's, with
// the relative `.ts` import specifiers rewritten to `.js` as
// rewriteRelativeImportExtensions does.
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

interface EsbuildTransform {
  transformSync(
    code: string,
    options: { loader: 'ts'; format: 'esm'; target: string; sourcefile: string },
  ): { code: string };
}

/** A relative import or export specifier ending in .ts, as esbuild prints it (double quotes). */
const relativeTsSpecifier = /((?:\bfrom|\bimport)\s*\(?\s*)"(\.\.?\/[^"\n]+)\.ts"/g;

export interface CompiledCli {
  /** The temp directory (remove it when done). */
  readonly dir: string;
  /** A script that runs the CLI (`node <entry> server ...`), ending itself when its parent goes. */
  readonly entry: string;
  readonly files: number;
  readonly ms: number;
}

/** Compiles src/ into a new temp directory (prefix `prefix`) and writes a runner script there. */
export function compileCli(prefix: string): CompiledCli {
  const t0 = performance.now();
  // esbuild comes with tsx (a devDependency); resolve it from there.
  const esbuild = createRequire(import.meta.resolve('tsx'))('esbuild') as EsbuildTransform;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let files = 0;
  const compileTree = (srcDir: string, outDir: string): void => {
    mkdirSync(outDir, { recursive: true });
    for (const name of readdirSync(srcDir)) {
      const path = join(srcDir, name);
      if (statSync(path).isDirectory()) {
        compileTree(path, join(outDir, name));
        continue;
      }
      if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
      const { code } = esbuild.transformSync(readFileSync(path, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'es2022',
        sourcefile: path,
      });
      const js = code.replace(relativeTsSpecifier, '$1"$2.js"');
      if (/["']\.\.?\/[^"'\n]+\.ts["']/.test(js.replace(/new URL\(["'][^"']+["']/g, ''))) {
        throw new Error(`compileCli: a relative .ts import in ${path} was not rewritten`);
      }
      writeFileSync(join(outDir, name.replace(/\.ts$/, '.js')), js);
      files++;
    }
  };
  compileTree(join(root, 'src'), join(dir, 'src'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  // Bare imports resolve from the repository's dependencies, as from an installed package's.
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const entry = join(dir, 'run-cli.js');
  writeFileSync(
    entry,
    [
      "import { main } from './src/cli/main.js';",
      '// Orphaned (the benchmark died): end, so no server is left behind.',
      'const parent = process.ppid;',
      "setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM'); }, 500).unref();",
      'await main(process.argv);',
      '',
    ].join('\n'),
  );
  return { dir, entry, files, ms: performance.now() - t0 };
}
