/**
 * The five published packages as users install them (packed with `pnpm pack`,
 * unpacked into projects outside the workspace, see ./packed.ts): one copy of
 * every class whether a package is imported or required, declarations that
 * compile with every declaration checked (in a browser project, in a Node
 * project, and, for @proj/protocol, with no host's types at all), the peers
 * they declare, and the files they ship.
 *
 * Needs the built packages (`dist/`): the test command builds first.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PUBLISHED, type Packs, type Published, ROOT, makeProject, packAll } from './packed.js';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('fixtures/packaging/', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
// A tsc run over @types/node and ioredis takes 5-17 s on a 2-core machine,
// more while the rest of the suite runs beside it: upper bounds, not targets.
const SLOW = 120_000;

let packs: Packs;
/** Every published package, ioredis and @types/node: a Node app. */
let nodeProject: string;
/** @proj/client and its dependencies, nothing else: a browser app. */
let browserProject: string;
/** @proj/protocol alone, with no host's types. */
let pureProject: string;

beforeAll(async () => {
  packs = await packAll();
  [nodeProject, browserProject, pureProject] = await Promise.all([
    makeProject(packs, {
      packages: PUBLISHED,
      links: [
        { name: '@types/node', from: ROOT },
        { name: 'ioredis', from: join(ROOT, 'packages', 'redis') },
      ],
      fixture: join(fixtures, 'node'),
    }),
    makeProject(packs, {
      packages: ['client', 'protocol', 'deflate'],
      fixture: join(fixtures, 'browser'),
    }),
    makeProject(packs, { packages: ['protocol'], fixture: join(fixtures, 'pure') }),
  ]);
}, SLOW);

afterAll(async () => {
  await packs?.remove();
});

/** Runs a command; resolves to its exit code and output instead of throwing. */
async function outcome(
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, env: withoutNodeOptions() });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The test runner's NODE_OPTIONS must not reach the app under test. */
function withoutNodeOptions(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return env;
}

function packageJson(project: string, name: Published): Record<string, unknown> {
  return JSON.parse(
    readFileSync(join(project, 'node_modules', '@proj', name, 'package.json'), 'utf8'),
  ) as Record<string, unknown>;
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const path = join(directory, entry);
    return statSync(path).isDirectory()
      ? filesUnder(path).map((file) => `${entry}/${file}`)
      : [entry];
  });
}

describe('the packed packages', () => {
  test('hold one copy of every class, whether imported or required', async () => {
    // From the project's root, so that it resolves the packages by name as the app would.
    const target = join(nodeProject, 'one-copy.mjs');
    copyFileSync(join(fixtures, 'one-copy.mjs'), target);
    const { code, output } = await outcome(process.execPath, [target], nodeProject);
    expect(code, output).toBe(0);
    expect(JSON.parse(output)).toEqual({
      differs: Object.fromEntries(PUBLISHED.map((name) => [`@proj/${name}`, []])),
      notInstances: [],
      warnings: [],
    });
  });

  test(
    "compile in a browser project: @proj/client's WebSocket is the DOM's, and nothing needs Node's types",
    async () => {
      const { code, output } = await outcome(process.execPath, [TSC, '-p', '.'], browserProject);
      expect(output).toBe('');
      expect(code).toBe(0);
    },
    SLOW,
  );

  test(
    "compile @proj/protocol in a project with ES2022 alone: it needs no host's types",
    async () => {
      const { code, output } = await outcome(process.execPath, [TSC, '-p', '.'], pureProject);
      expect(output).toBe('');
      expect(code).toBe(0);
    },
    SLOW,
  );

  test(
    'compile in a Node project with @types/node and no DOM, from ESM and from CommonJS',
    async () => {
      const { code, output } = await outcome(process.execPath, [TSC, '-p', '.'], nodeProject);
      expect(output).toBe('');
      expect(code).toBe(0);
    },
    SLOW,
  );

  test(
    "compile @proj/client's Node entry in a Node project with @types/node and the DOM's types",
    async () => {
      const { code, output } = await outcome(
        process.execPath,
        [TSC, '-p', 'tsconfig.client.json'],
        nodeProject,
      );
      expect(output).toBe('');
      expect(code).toBe(0);
    },
    SLOW,
  );

  test("declare @types/node an optional peer exactly where their declarations use Node's types", () => {
    const declarations = (name: Published): string =>
      filesUnder(join(nodeProject, 'node_modules', '@proj', name, 'dist'))
        .filter((file) => file.endsWith('.d.ts'))
        .map((file) =>
          readFileSync(join(nodeProject, 'node_modules', '@proj', name, 'dist', file), 'utf8'),
        )
        .join('\n')
        // Comments may mention Node freely.
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
    const usesNode = (name: Published): boolean => {
      const text = declarations(name);
      if (/\bfrom\s*['"]node:|(?<![\w$])Buffer\b|\bNodeJS\./.test(text)) return true;
      return PUBLISHED.some(
        (other) => other !== name && text.includes(`'@proj/${other}'`) && usesNode(other),
      );
    };
    const peers = Object.fromEntries(
      PUBLISHED.map((name) => {
        const manifest = packageJson(nodeProject, name) as {
          peerDependencies?: Record<string, string>;
          peerDependenciesMeta?: Record<string, { optional?: boolean }>;
        };
        const range = manifest.peerDependencies?.['@types/node'];
        const optional = manifest.peerDependenciesMeta?.['@types/node']?.optional === true;
        return [name, range === undefined ? null : { range, optional }];
      }),
    );
    const expected = Object.fromEntries(
      PUBLISHED.map((name) => [
        name,
        usesNode(name) ? { range: '>=20.12.0', optional: true } : null,
      ]),
    );
    expect(peers).toEqual(expected);
    // What the scan finds today, so that a scan that finds nothing fails too.
    expect(Object.keys(expected).filter((name) => expected[name] !== null)).toEqual([
      'deflate',
      'server',
      'client',
      'redis',
    ]);
  });

  test('make ioredis a peer of @proj/redis, not a dependency', () => {
    const manifest = packageJson(nodeProject, 'redis') as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    expect(manifest.dependencies?.['ioredis']).toBeUndefined();
    expect(manifest.peerDependencies?.['ioredis']).toBe('^6.0.0');
  });

  test('ship dist (JavaScript and declarations), the README and the MIT LICENSE, nothing else', () => {
    for (const name of PUBLISHED) {
      const directory = join(nodeProject, 'node_modules', '@proj', name);
      const files = filesUnder(directory);
      const unexpected = files.filter(
        (file) =>
          !['package.json', 'README.md', 'LICENSE'].includes(file) &&
          !/^dist\/[\w-]+\.(js|d\.ts)$/.test(file),
      );
      expect(unexpected, `@proj/${name}`).toEqual([]);
      expect(files, `@proj/${name}`).toEqual(expect.arrayContaining(['LICENSE', 'README.md']));
      expect(readFileSync(join(directory, 'LICENSE'), 'utf8')).toMatch(
        /^MIT License\n\nCopyright \(c\) 2026 the @proj authors\n/,
      );
      // The workspace-only `source` condition is not published.
      expect(JSON.stringify(packageJson(nodeProject, name)['exports'])).not.toContain('source');
    }
  });
});
