/**
 * Where the third-party conformance corpus is: `$NEXTDB_CORPUS` when set,
 * else `../shared/corpus` beside this checkout (the project's layout), else
 * `/work/shared/corpus` (where this workplace keeps it, for a clone made
 * elsewhere). When none exists, the sibling path, so a missing file is
 * named where the corpus is expected.
 */

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const sibling = resolve(fileURLToPath(new URL('../../../shared/corpus', import.meta.url)));

function findCorpus(): string {
  const fromEnv = process.env['NEXTDB_CORPUS'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  for (const dir of [sibling, '/work/shared/corpus']) if (existsSync(dir)) return dir;
  return sibling;
}

export const CORPUS_DIR = findCorpus();

/** A path inside the corpus. */
export const corpusPath = (...parts: string[]): string => join(CORPUS_DIR, ...parts);
