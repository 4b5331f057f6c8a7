// Golden Raft interaction scripts: each test/raft/scripts/*.txt is a list of
// blocks
//
//   # comments (kept on rewrite)
//   command args
//   ----
//   expected output
//   <blank line>
//
// run through ScriptCluster (raft-harness.ts). A mismatch fails with the
// whole expected/actual text; `UPDATE_GOLDEN=1 npm test -- raft/golden`
// rewrites the expected output so the diff can be reviewed like code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptCluster } from './raft-harness.ts';

const dir = join(import.meta.dirname, 'scripts');
const update = process.env.UPDATE_GOLDEN === '1';

interface Block {
  readonly comments: string[];
  readonly command: string;
  readonly expected: string;
}

function parse(text: string, file: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    const command = line;
    i++;
    if (lines[i] !== '----') throw new Error(`${file}:${i + 1}: expected ---- after "${command}"`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    blocks.push({ comments, command, expected: out.join('\n') });
    comments = [];
  }
  return { blocks, trailer: comments };
}

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort()) {
  test(`raft script ${file}`, () => {
    const path = join(dir, file);
    const { blocks, trailer } = parse(readFileSync(path, 'utf8'), file);
    const cluster = new ScriptCluster();
    const rewritten: string[] = [];
    let expectedAll = '';
    let actualAll = '';
    for (const b of blocks) {
      let actual: string;
      try {
        actual = cluster.run(b.command);
      } catch (e) {
        actual = `panic: ${(e as Error).message}`;
      }
      rewritten.push(...b.comments, b.command, '----', actual, '');
      expectedAll += `${b.command}\n${b.expected}\n\n`;
      actualAll += `${b.command}\n${actual}\n\n`;
    }
    if (update) {
      const body = [...rewritten, ...trailer].join('\n').replace(/\n+$/, '\n');
      writeFileSync(path, body);
      return;
    }
    assert.equal(actualAll, expectedAll, `${file}: output differs (UPDATE_GOLDEN=1 rewrites it)`);
  });
}
