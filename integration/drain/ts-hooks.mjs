// @ts-check
// Module hooks that let a plain Node process (Node 20: no type stripping)
// import the chaos test's TypeScript sources, so that the drain test's
// client runners judge every message with the very `ChaosClient` and
// `StreamCheck` the in-process tests use, not a copy. Registered by
// `client-runner.mjs` (`module.register`) before it imports them.
//
// - resolve: a relative `./x.js` that does not exist is tried as `./x.ts`
//   (the sources import each other by their emitted names).
// - load: a `.ts` file is transpiled alone (`ts.transpileModule`: types
//   erased, no type check; `pnpm typecheck` checks them).
import { readFile } from 'node:fs/promises';
import ts from 'typescript';

/** @type {import('node:module').ResolveHook} */
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    if (
      code !== 'ERR_MODULE_NOT_FOUND' ||
      !/^\.\.?\//.test(specifier) ||
      !specifier.endsWith('.js')
    ) {
      throw error;
    }
    return next(`${specifier.slice(0, -3)}.ts`, context);
  }
}

/** @type {import('node:module').LoadHook} */
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
    },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
