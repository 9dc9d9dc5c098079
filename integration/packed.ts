/**
 * The published packages as an application installs them: `pnpm pack` in each
 * package (the files and the manifest that `pnpm publish` would upload, with
 * `publishConfig` applied and `workspace:` ranges replaced), unpacked into
 * the `node_modules` of a throwaway project outside the workspace. There,
 * nothing of the workspace can be reached: not its `node_modules`, not the
 * `source` export condition, not the private `@proj/transport`.
 *
 * Needs the built packages (`dist/`): the test command builds first.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The published packages, by directory name under packages/. */
export const PUBLISHED = ['protocol', 'deflate', 'server', 'client', 'redis'] as const;
export type Published = (typeof PUBLISHED)[number];

/** The tarballs of every published package, packed once into a temporary directory. */
export interface Packs {
  readonly directory: string;
  readonly tarballs: Readonly<Record<Published, string>>;
  /** Removes the tarballs and every project made from them. */
  remove(): Promise<void>;
}

/** Packs every published package with `pnpm pack`. */
export async function packAll(): Promise<Packs> {
  for (const name of PUBLISHED) {
    if (!existsSync(join(ROOT, 'packages', name, 'dist'))) {
      throw new Error(
        `packages/${name}/dist is missing. These tests pack the BUILT packages: run the build ` +
          'first (`pnpm build` at the repository root).',
      );
    }
  }
  const directory = await mkdtemp(join(tmpdir(), 'proj-packed-'));
  const tarballs = {} as Record<Published, string>;
  await Promise.all(
    PUBLISHED.map(async (name) => {
      const destination = join(directory, name);
      await mkdir(destination);
      await run('pnpm', ['pack', '--pack-destination', destination], {
        cwd: join(ROOT, 'packages', name),
      });
      tarballs[name] = join(destination, await onlyTarball(destination));
    }),
  );
  return { directory, tarballs, remove: () => rm(directory, { recursive: true, force: true }) };
}

async function onlyTarball(directory: string): Promise<string> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.tgz'));
  if (files.length !== 1)
    throw new Error(`expected one tarball in ${directory}, got ${files.join(', ') || 'none'}`);
  return files[0]!;
}

/** What goes into a project's node_modules. */
export interface ProjectContents {
  /** Packed packages, installed as `@proj/<name>`. */
  packages: readonly Published[];
  /** Workspace dependencies linked in by name (e.g. `@types/node`), resolved from `from`. */
  links?: ReadonlyArray<{ name: string; from: string }>;
  /** A fixture directory whose files are copied into the project root. */
  fixture?: string;
}

/**
 * Makes a project in a new directory under `packs.directory`: the packed
 * packages unpacked into its node_modules, the links, the fixture's files.
 * @returns the project directory.
 */
export async function makeProject(packs: Packs, contents: ProjectContents): Promise<string> {
  const project = await mkdtemp(join(packs.directory, 'project-'));
  await Promise.all(
    contents.packages.map(async (name) => {
      const destination = join(project, 'node_modules', '@proj', name);
      await mkdir(destination, { recursive: true });
      await run('tar', ['-xzf', packs.tarballs[name], '-C', destination, '--strip-components=1']);
    }),
  );
  for (const { name, from } of contents.links ?? []) {
    const target = await realpath(join(from, 'node_modules', name));
    const path = join(project, 'node_modules', name);
    await mkdir(dirname(path), { recursive: true });
    await symlink(target, path, 'dir');
  }
  if (contents.fixture) await cp(contents.fixture, project, { recursive: true });
  return project;
}
