/**
 * The two entries: `@proj/testing` must never load Playwright (vitest and
 * node:test users have no reason to install it), and the Playwright entry
 * gives the same classes, not copies.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import * as main from '../src/index.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Every module specifier the file imports, and those of the files it imports, transitively. */
function importsOf(file: string, seen = new Set<string>()): Set<string> {
  const specifiers = new Set<string>();
  if (seen.has(file)) return specifiers;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)) {
    const specifier = match[1]!;
    specifiers.add(specifier);
    if (specifier.startsWith('.')) {
      const target = join(dirname(file), specifier.replace(/\.js$/, '.ts'));
      for (const inner of importsOf(target, seen)) specifiers.add(inner);
    }
  }
  return specifiers;
}

describe('entries', () => {
  test('the main entry imports nothing of Playwright', () => {
    const imports = [...importsOf(join(src, 'index.ts'))].filter((s) => !s.startsWith('.'));
    expect(imports.sort()).toEqual(['@proj/server', 'node:buffer', 'node:http', 'node:net']);
  });

  test('the Playwright entry imports @playwright/test and re-exports the main entry', async () => {
    expect(importsOf(join(src, 'playwright.ts'))).toContain('@playwright/test');
    const playwright = await import('../src/playwright.js');
    for (const [name, value] of Object.entries(main)) {
      expect(playwright[name as keyof typeof playwright], name).toBe(value);
    }
  });
});
