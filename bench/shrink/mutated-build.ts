// A mutant of the mutation benchmark (bench/mutants/NAME.mutant) planted in a
// copy of the compiled tree, for the shrink benchmark: the built dist/ is
// copied and only the patched sources are compiled again, one file each
// (TypeScript's transpileModule: the patches change no types), so a mutant
// costs a second, not a whole build. Imports from the copy load the mutated
// modules beside the original ones.
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { applyMutant, parseMutant } from '../mutants/mutant.js';

/** The copy's root: its dist/ has the mutant; scenario files are read from the repository. */
export function mutatedBuild(root: string, name: string): string {
  const file = path.join(root, 'bench', 'mutants', `${name}.mutant`);
  const mutant = parseMutant(readFileSync(file, 'utf8'), file);
  const applied = applyMutant(mutant, (p) => readFileSync(path.join(root, p), 'utf8'));
  if (!applied.ok) throw new Error(`${file}: the patch no longer applies: ${applied.problems.join('; ')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), `gallocy-shrink-${name}-`));
  cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
  cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const options = JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8')) as { compilerOptions: ts.CompilerOptions };
  const { options: compilerOptions } = ts.convertCompilerOptionsFromJson(options.compilerOptions, root);
  for (const [source, text] of applied.files) {
    // ES modules, as the package's "type": "module" makes the whole build (one file alone cannot tell).
    const js = ts.transpileModule(text, { compilerOptions: { ...compilerOptions, module: ts.ModuleKind.ES2022 }, fileName: source }).outputText;
    writeFileSync(path.join(dir, 'dist', source.replace(/\.ts$/, '.js')), js);
  }
  return dir;
}
