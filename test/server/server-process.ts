// Starts `nextdb server` as a real child process (from source through tsx),
// waits for its "listening" log line to learn the port, and stops it by PID.
// Every data directory it creates lives under os.tmpdir() with the prefix
// nextdb-wire- and is removed by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
// Resolved here, because the server process runs with its data directory as cwd, where tsx cannot be found.
const tsx = import.meta.resolve('tsx');

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  /** Everything the process wrote so far. */
  output(): string;
  /** SIGTERM, then waits for exit; returns the exit code. Removes the temp dir unless keepDir. */
  stop(keepDir?: boolean): Promise<number | null>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nextdb-wire-'));
}

/** Runs the CLI to completion (for start-up failures); returns exit code and output. */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', tsx, join(root, 'test/server/run-cli.ts'), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, output });
    });
  });
}

/**
 * Starts `nextdb server ARGS`. By default from source through tsx; with
 * `entry` (a compiled CLI runner, see compileCli) with plain node, as the
 * installed `nextdb` command runs dist.
 */
export async function startServerProcess(
  args: readonly string[],
  options: { dir?: string; env?: Record<string, string>; entry?: string } = {},
): Promise<ServerProcess> {
  const dir = options.dir ?? tempDir();
  const command =
    options.entry === undefined
      ? ['--import', tsx, join(root, 'test/server/run-cli.ts'), 'server', ...args]
      : [options.entry, 'server', ...args];
  const child = spawn(process.execPath, command, {
    cwd: dir,
    env: { ...process.env, ...options.env },
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start in time:\n${output}`)), 60_000);
    const onData = (c: Buffer): void => {
      output += c.toString();
      const m = /"port":(\d+)/.exec(output);
      if (m !== null) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    child,
    port,
    dir,
    output: () => output,
    stop: async (keepDir = false) => {
      const code = await new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
        if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      });
      if (!keepDir && options.dir === undefined) rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
