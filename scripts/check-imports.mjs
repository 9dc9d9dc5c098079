// The boundaries of docs/architecture.md, checked on the sources: no file of a
// package's src/ imports (directly or through others) a file that imports it
// back; packages depend on each other only downwards; and no code outside
// @proj/protocol picks bits out of frame bytes (the protocol owns every rule).
// Run by `pnpm test`; exits 1 naming the cycle, the edge or the line.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Which workspace packages a package's sources may import. */
const ALLOWED = {
  protocol: [],
  deflate: ['protocol'],
  transport: ['protocol', 'deflate'],
  server: ['protocol', 'deflate', 'transport'],
  client: ['protocol', 'deflate', 'transport'],
  redis: ['protocol', 'server'],
  // The command line is an application of the two public APIs only.
  cli: ['client', 'server'],
  // The testing kit runs a real server; tests drive it with whatever client they test.
  testing: ['server'],
};

const problems = [];
for (const [name, allowed] of Object.entries(ALLOWED)) {
  const src = join(root, 'packages', name, 'src');
  const files = readdirSync(src, { recursive: true })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
    .map((file) => join(src, file));
  const graph = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (name !== 'protocol') {
      // e.g. `(chunks[0]![0]! & 0x0f) === Opcode.Pong`: reading a frame header by hand.
      for (const [index, line] of text.split('\n').entries()) {
        if (/\[\d+\]!?\s*&\s*0x[0-9a-f]+/i.test(line)) {
          problems.push(
            `${relative(root, file)}:${index + 1} reads bits of a byte: leave frames to @proj/protocol`,
          );
        }
      }
    }
    const edges = [];
    // Type-only imports count too: a cycle of types is still two files that
    // cannot be read (or moved) one without the other.
    for (const match of text.matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)) {
      const target = match[1];
      if (target.startsWith('.')) {
        edges.push(resolve(dirname(file), target.replace(/\.js$/, '.ts')));
      } else if (target.startsWith('@proj/')) {
        const dependency = target.slice('@proj/'.length);
        if (!allowed.includes(dependency)) {
          problems.push(
            `${relative(root, file)} imports ${target}: ${name} may use ${allowed.join(', ') || 'no other package'}`,
          );
        }
      }
    }
    graph.set(file, edges);
  }
  // Depth-first search for a back edge.
  const state = new Map();
  const stack = [];
  const visit = (file) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next)).concat(next);
        problems.push(`import cycle: ${cycle.map((f) => relative(root, f)).join(' → ')}`);
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  process.exit(1);
}
console.log(
  `imports: no cycles, dependencies point down, no frame bits read outside the protocol (${Object.keys(ALLOWED).length} packages)`,
);
