/**
 * The package's version, inlined at build time so that the bin needs no
 * file next to it at run time.
 * @packageDocumentation
 */
export { version } from '../package.json';
