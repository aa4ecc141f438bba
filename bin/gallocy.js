#!/usr/bin/env node
// Entry point: the CLI is TypeScript compiled to dist/ (rootDir '.'), so this
// file only finds the compiled main and hands it the arguments. The exit code
// is set rather than forced so piped stdout (a large --json report) drains.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mainUrl = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(mainUrl))) {
  process.stderr.write('gallocy is not built: run npm install (or npm run build)\n');
  process.exit(2);
}
const { main } = await import(mainUrl.href);
process.exitCode = await main(process.argv.slice(2));
