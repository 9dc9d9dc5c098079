/**
 * The one build of every published package (`@proj/protocol`, `@proj/deflate`,
 * `@proj/server`, `@proj/client`, `@proj/redis`): each `tsup.config.ts` only
 * names its entries, its platform and what it bundles.
 *
 * Why ESM only, one file per entry, for `import` and `require` alike: a
 * package that ships an ESM build and a CommonJS build gets loaded twice by
 * an application that reaches it both ways (its own `import`, a dependency's
 * `require`), and then holds two copies of every class: an error thrown by
 * one copy fails `instanceof` against the other. Node 20.19, our `engines`
 * floor, loads ES modules with `require()` (synchronously, without a flag or a
 * warning; our modules have no top-level await, the one thing it refuses), so
 * the `exports` of every package send both conditions to the same file and
 * Node keeps one instance of it. `@proj/server` and `@proj/client` import
 * `@proj/protocol` and `@proj/deflate` as dependencies (never bundled), so
 * their classes exist once too; integration/packaging.test.ts loads the packed
 * packages both ways and compares the classes.
 *
 * The other way to one copy, a CommonJS build behind a thin ESM wrapper (as
 * `ws` does), hands bundlers CommonJS, which they cannot tree-shake: a browser
 * page that `require`s `@proj/client` carried all of `@proj/protocol`, about
 * 12.6 KiB gzipped, where ESM takes about 1.2 KiB
 * (packages/client/test/browser-bundle.test.ts).
 *
 * What it costs: `attw` 0.18.5 checks with its own TypeScript 5.6, which does
 * not know that `require()` can load ESM, and reports `require` as "ESM
 * (dynamic import only)" (`cjs-resolves-to-esm`). Every package's
 * `check:package` ignores that one rule, and only it. TypeScript itself types
 * `require()` of these packages under `module: nodenext` (5.8+) and `node20`
 * (5.9+); CommonJS code compiled with `module: node16`, or run by a loader
 * without `require(esm)` (Jest's own module runtime), has to use `import()`.
 *
 * No source maps: they were 1.13 MB of the 2.2 MB the five packages took
 * unpacked, for output that is unminified and keeps its names. No
 * declaration maps either (tsup emits none), so nothing points into `src/`,
 * which is not published: its `source` export condition serves the workspace
 * only (vitest, `tsc`, the bench's hooks), and each package's
 * `publishConfig.exports`, the same map without it, replaces `exports` on
 * `pnpm pack` and `pnpm publish` (not on `npm publish`: publish with pnpm).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'tsup';

/** What differs between the packages' builds. */
export interface PackageBuild {
  /** Entry files, relative to the package; one `dist/<name>.js` and `.d.ts` each. */
  entry: string[];
  /**
   * `neutral` for code that must run anywhere (no Node built-ins resolved),
   * `node` for code that may import `node:` modules, which stay external.
   * Default `node`.
   */
  platform?: 'neutral' | 'node';
  /** The syntax level of the output. Default `node20`, our `engines` floor. */
  target?: string;
  /**
   * Private workspace packages to inline, code and declarations, because they
   * are never published: a consumer could resolve neither an `import` of them
   * nor a type imported from them. Their declarations are made from the
   * sources that the package's top-level `types` field names (packages/transport
   * has one for this). Default none.
   */
  bundle?: string[];
}

/** The tsup options of one published package. */
export function packageBuild({
  entry,
  platform = 'node',
  target = 'node20',
  bundle = [],
}: PackageBuild): Options {
  return {
    entry,
    format: ['esm'],
    dts: bundle.length > 0 ? { compilerOptions: { paths: sourcesOf(bundle) } } : true,
    sourcemap: false,
    clean: true,
    platform,
    target,
    treeshake: true,
    noExternal: bundle,
  };
}

/**
 * Maps each bundled package to its sources by real path. Reached through the
 * workspace's `node_modules` symlink, the compiler would take it for an
 * external library and leave an `import` of it (or of its files) in the
 * declarations; a `paths` entry outside `node_modules` makes it inline them.
 */
function sourcesOf(packages: readonly string[]): Record<string, string[]> {
  return Object.fromEntries(
    packages.map((name) => {
      const directory = realpathSync(join(process.cwd(), 'node_modules', name));
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
        types?: string;
      };
      if (manifest.types === undefined) {
        throw new Error(`${name} has no "types" field naming the sources to bundle`);
      }
      return [name, [join(directory, manifest.types)]];
    }),
  );
}
