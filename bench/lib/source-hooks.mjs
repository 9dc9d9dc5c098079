// Module hooks that run the workspace packages from their TypeScript sources
// instead of dist/, as the tests do: `@proj/*` resolve through their "source"
// export condition, `./x.js` imports between sources find `./x.ts`, and .ts
// files are transpiled (types stripped) with the workspace's TypeScript.
// Registered by `soak.mjs --source` (module.register), so the soak test
// checks the code as it is, without a build.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export async function resolve(specifier, context, nextResolve) {
  const conditions = ['source', ...context.conditions];
  try {
    return await nextResolve(specifier, { ...context, conditions });
  } catch (error) {
    if (
      specifier.startsWith('.') &&
      specifier.endsWith('.js') &&
      context.parentURL?.endsWith('.ts')
    ) {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, { ...context, conditions });
    }
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
    },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
