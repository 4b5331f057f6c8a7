// The engine contract as a golden script (golden/engine-contract.txt), run
// against the memory engine, the LSM engine on the simulated Vfs and the LSM
// engine on the real file system. Every engine must print exactly the
// expected output. UPDATE_GOLDEN=1 rewrites the expected output (from the
// memory engine, the reference); review the diff like code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ScanOptions, Snapshot, Reader } from '../../src/storage/engine.ts';
import { WriteBatch } from '../../src/storage/write-batch.ts';
import { memoryHarness, nodeLsmHarness, simLsmHarness, tinyLsm, type EngineHarness } from './engines.lib.ts';
import { NodeVfs } from '../../src/storage/node-vfs.ts';

const GOLDEN = path.join(import.meta.dirname, 'golden', 'engine-contract.txt');

interface Case {
  readonly command: string;
  readonly expected: string;
}

/** Splits the script into leading comment text and cases. */
function parse(text: string): { header: string; cases: Case[] } {
  const lines = text.split('\n');
  const header: string[] = [];
  let i = 0;
  while (i < lines.length && (lines[i]!.startsWith('#') || lines[i] === '')) header.push(lines[i++]!);
  const cases: Case[] = [];
  const comments: string[] = [];
  while (i < lines.length) {
    const line = lines[i++]!;
    if (line === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    assert.equal(lines[i], '---', `expected --- after "${line}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    cases.push({ command: [...comments.splice(0), line].join('\n'), expected: out.join('\n') });
  }
  return { header: header.join('\n'), cases };
}

function unescape(s: string): Buffer {
  if (s === '""') return Buffer.alloc(0);
  return Buffer.from(
    s.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  );
}

function show(b: Buffer): string {
  let out = '';
  for (const c of b)
    out += c < 0x20 || c > 0x7e || c === 0x5c ? `\\x${c.toString(16).padStart(2, '0')}` : String.fromCharCode(c);
  return out;
}

const pad = (n: number): string => String(n).padStart(5, '0');

async function run(h: EngineHarness, command: string, snaps: Map<string, Snapshot>): Promise<string> {
  const line = command.split('\n').at(-1)!;
  const [cmd, ...args] = line.split(' ');
  const opts = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0 && !a.includes(':')) opts.set(a.slice(0, eq), a.slice(eq + 1));
    else opts.set(a, '');
  }
  const reader = (): Reader => {
    const s = opts.get('snap');
    if (s === undefined) return h.engine;
    const snap = snaps.get(s);
    assert.ok(snap, `no snapshot ${s}`);
    return snap;
  };
  const scanOptions = (): ScanOptions => {
    const o: { -readonly [K in keyof ScanOptions]: ScanOptions[K] } = {};
    for (const b of ['gte', 'gt', 'lt', 'lte'] as const) {
      const v = opts.get(b);
      if (v !== undefined) o[b] = unescape(v);
    }
    if (opts.has('reverse')) o.reverse = true;
    if (opts.has('limit')) o.limit = Number(opts.get('limit'));
    return o;
  };
  const collect = (): [Buffer, Buffer][] => {
    const it = reader().iterator(scanOptions());
    try {
      const seek = opts.get('seek');
      if (seek !== undefined) it.seek(unescape(seek));
      const out: [Buffer, Buffer][] = [];
      for (; it.valid(); it.next()) out.push([Buffer.from(it.key()), Buffer.from(it.value())]);
      return out;
    } finally {
      it.close();
    }
  };
  const e = h.engine;
  switch (cmd) {
    case 'put':
      e.put(unescape(args[0]!), unescape(args[1]!));
      return 'ok';
    case 'delete':
      e.delete(unescape(args[0]!));
      return 'ok';
    case 'batch': {
      const b = new WriteBatch();
      for (const a of args) {
        const [kind, rest] = [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)];
        if (kind === 'put')
          b.put(unescape(rest.slice(0, rest.indexOf('='))), unescape(rest.slice(rest.indexOf('=') + 1)));
        else b.delete(unescape(rest));
      }
      e.write(b);
      return 'ok';
    }
    case 'get': {
      const v = reader().get(unescape(args[0]!));
      return v === undefined ? `${args[0]}: none` : `${args[0]}=${show(v)}`;
    }
    case 'scan': {
      const rows = collect();
      return rows.length === 0 ? '(empty)' : rows.map(([k, v]) => `${show(k)}=${show(v)}`).join('\n');
    }
    case 'count': {
      const rows = collect();
      return `count=${rows.length} first=${rows[0] ? show(rows[0][0]) : '-'} last=${rows.at(-1) ? show(rows.at(-1)![0]) : '-'}`;
    }
    case 'fill':
    case 'erase': {
      const [from, to, step] = [Number(args[0]), Number(args[1]), Number(args[2] ?? 1)];
      for (let i = from; i < to; i += step) {
        if (cmd === 'fill') e.put(Buffer.from(`key${pad(i)}`), Buffer.from(`v${pad(i)}`));
        else e.delete(Buffer.from(`key${pad(i)}`));
        // Let background flushes and compactions interleave with the writes.
        if (i % 200 === 0) await new Promise((r) => setImmediate(r));
      }
      return 'ok';
    }
    case 'snapshot':
      snaps.set(args[0]!, e.snapshot());
      return 'ok';
    case 'release':
      snaps.get(args[0]!)!.release();
      snaps.delete(args[0]!);
      return 'ok';
    case 'flush':
      await e.flush();
      return 'ok';
    case 'compact':
      await e.compact();
      return 'ok';
    case 'reopen':
      assert.equal(snaps.size, 0, 'release snapshots before reopen');
      await e.sync();
      await h.reopen();
      return 'ok';
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

async function runScript(h: EngineHarness): Promise<{ header: string; results: [Case, string][] }> {
  const { header, cases } = parse(fs.readFileSync(GOLDEN, 'utf8'));
  const snaps = new Map<string, Snapshot>();
  const results: [Case, string][] = [];
  try {
    for (const c of cases) results.push([c, await run(h, c.command, snaps)]);
  } finally {
    for (const s of snaps.values()) s.release();
    await h.dispose();
  }
  return { header, results };
}

const harnesses: [string, () => Promise<EngineHarness>][] = [
  ['memory', () => Promise.resolve(memoryHarness())],
  ['lsm on SimVfs', () => simLsmHarness()],
  ['lsm on the file system', () => nodeLsmHarness()],
  ['lsm on the file system, no mmap', () => nodeLsmHarness({ ...tinyLsm, vfs: new NodeVfs({ mmap: false }) })],
];

for (const [name, make] of harnesses) {
  test(`engine contract golden script: ${name}`, async () => {
    const { header, results } = await runScript(await make());
    if (process.env.UPDATE_GOLDEN === '1' && name === 'memory') {
      const body = results.map(([c, out]) => `${c.command}\n---\n${out}`).join('\n\n');
      fs.writeFileSync(GOLDEN, `${header}\n${body}\n`);
      return;
    }
    for (const [c, out] of results) assert.equal(out, c.expected, `${name}: ${c.command}`);
  });
}
