// Reading the project's own sources in tests: the TypeScript files under a
// folder, and their code with comments and string contents blanked out.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Removes comments and string contents, so prose about a rule is not a breach of it. */
export function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

/** Every .ts file under dir, recursively. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : name.endsWith('.ts') ? [p] : [];
  });
}
