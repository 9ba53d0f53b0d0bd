#!/usr/bin/env node
// The installed `rds-migrate` command: loads TypeScript (the CLI and .ts migrations) through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
