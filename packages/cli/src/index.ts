/**
 * `@proj/cli`: the `proj-ws` command (`connect`, `listen`), and {@link run}
 * for programs that embed it.
 * @packageDocumentation
 */
export { run } from './run.js';
export type { CliIO } from './io.js';
export { ExitCode, type ExitCodeValue } from './exit-code.js';
