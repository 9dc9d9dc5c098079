import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.base.js';

// The library (index.ts: `run`) and the bin (cli.ts) in one ESM build, so
// that the code they share is one chunk. Declarations for the library only:
// the bin is run, never imported. esbuild keeps cli.ts's #! line, and tsup
// makes the file executable.
export default defineConfig({
  ...packageBuild({ entry: ['src/index.ts', 'src/cli.ts'] }),
  dts: { entry: 'src/index.ts' },
});
