/** The release, for the command line's entry: `--version` answers with it before anything else loads. */
export { RELEASE } from '../engine/version.ts';
