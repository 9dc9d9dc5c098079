/**
 * The README's examples are tests that run: each block marked
 * `<!-- example: path -->` is a part of that file, and the parts of one file,
 * in order and separated by a blank line, are the whole file. So the README
 * shows exactly what the suites run (the chat page and its spec in e2e/, in
 * Chromium and Firefox; the unit-test example here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(root, 'packages', 'testing', 'README.md'), 'utf8');

/** The marked blocks, by file, in README order. */
function examples(markdown: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const marked = /<!-- example: (\S+) -->\n\n```\w*\n([\s\S]*?)\n```/g;
  for (const [, path, code] of markdown.matchAll(marked)) {
    found.set(path!, [...(found.get(path!) ?? []), code!]);
  }
  return found;
}

describe('the README', () => {
  const blocks = examples(readme);

  test('marks the chat page, its spec and the unit-test example', () => {
    expect([...blocks.keys()]).toEqual([
      'e2e/page/chat.html',
      'e2e/tests/chat-example.spec.ts',
      'packages/testing/test/readme-example.test.ts',
    ]);
    // Every marker is followed by its block.
    expect(readme.match(/<!-- example: /g)).toHaveLength(
      [...blocks.values()].reduce((sum, parts) => sum + parts.length, 0),
    );
  });

  for (const [path, parts] of blocks) {
    test(`shows ${path} whole and unchanged`, () => {
      expect(`${parts.join('\n\n')}\n`).toBe(readFileSync(join(root, path), 'utf8'));
    });
  }
});
