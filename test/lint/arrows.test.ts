// The import arrows point one way: cli -> sim | real -> host -> vmm -> raft,
// with check (history checkers) and input (validated input files) usable from
// cli, sim and real. Every import of every file under src/ is held against
// that table, so a reader can trust the tree to say where a piece lives.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';

/** Each module (a folder under src/) and the modules of ours it may import. */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  raft: [],
  vmm: ['raft'],
  host: ['vmm', 'raft'],
  check: ['raft'],
  input: [],
  sim: ['host', 'vmm', 'raft', 'check', 'input'],
  real: ['host', 'vmm', 'raft', 'check', 'input'],
  cli: ['sim', 'real', 'host', 'vmm', 'raft', 'check', 'input'],
};

function literal(node: ts.Node | undefined): string | undefined {
  return node !== undefined && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

function isImportMetaUrl(node: ts.Node | undefined): boolean {
  return (
    node !== undefined &&
    ts.isPropertyAccessExpression(node) &&
    node.name.text === 'url' &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword
  );
}

/**
 * The module specifiers a source file refers to: `import ... from`, `export
 * ... from`, bare `import '...'`, `import('...')` with a literal, and
 * `new URL('...', import.meta.url)` (how workers and native files are found).
 * Type-only imports count: they tie the modules together all the same.
 */
export function importsOf(fileName: string, source: string): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    let spec: string | undefined;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) spec = literal(node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) spec = literal(node.arguments[0]);
    else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'URL' && isImportMetaUrl(node.arguments?.[1])) {
      spec = literal(node.arguments?.[0]);
    }
    if (spec !== undefined) found.push(spec);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** `src/x/y.ts` for a relative specifier that lands in src/ (compiled `.js` names map back to `.ts`); else undefined. */
function target(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined; // node: builtins and packages
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
  if (!resolved.startsWith('src/')) return undefined;
  return resolved.replace(/\.js$/, '.ts');
}

function moduleOf(file: string): string {
  return file.split('/')[1] ?? '';
}

/** Every import that runs against MAY_IMPORT, as `src/a/b.ts imports src/x/y.ts (a may not depend on x)`. */
export function offences(files: readonly { readonly file: string; readonly source: string }[]): string[] {
  const out: string[] = [];
  for (const { file, source } of files) {
    const from = moduleOf(file);
    const allowed = MAY_IMPORT[from];
    if (allowed === undefined) {
      out.push(`${file} is in no known module (expected src/<${Object.keys(MAY_IMPORT).join('|')}>/...)`);
      continue;
    }
    for (const spec of importsOf(file, source)) {
      const to = target(file, spec);
      if (to === undefined) continue;
      const dest = moduleOf(to);
      if (dest !== from && !allowed.includes(dest)) out.push(`${file} imports ${to} (${from} may not depend on ${dest})`);
    }
  }
  return out;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

test('every kind of reference to another module is found; comments and strings are not references', () => {
  const source = [
    "import { a } from '../vmm/a.js';",
    "import type { B } from '../raft/b.js';",
    "import '../sim/side-effect.js';",
    "export { c } from '../check/c.js';",
    "export * from '../input/d.js';",
    "const e = await import('../real/e.js');",
    "const w = new URL('./worker.js', import.meta.url);",
    "const notAModule = new URL('https://example.com/x');",
    "// import { z } from '../cli/z.js';",
    "const s = \"import { y } from '../cli/y.js'\";",
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  assert.equal(importsOf('src/host/x.ts', source), [
    '../vmm/a.js', '../raft/b.js', '../sim/side-effect.js', '../check/c.js', '../input/d.js', '../real/e.js', './worker.js', 'node:fs',
  ]);
});

test('an import against the arrows is reported with both files and the rule it breaks', () => {
  const files = [
    { file: 'src/raft/log.ts', source: "import type { Scenario } from '../sim/scenario.js';" },
    { file: 'src/vmm/vmm.ts', source: "import { Log } from '../raft/log.js';\nconst m = await import('../host/runtime.js');" },
    { file: 'src/sim/run.ts', source: "import { serve } from '../real/serve.js';\nimport { checkLinearizable } from '../check/linearizability.js';" },
    { file: 'src/real/host.ts', source: "const w = new URL('../cli/main.js', import.meta.url);" },
    { file: 'src/check/formats/kv-edn.ts', source: "import type { KvOp } from '../kv-model.js';\nimport { violation } from '../../sim/check/violation.js';" },
    { file: 'src/host/runtime.ts', source: "import { Vmm } from '../vmm/vmm.js';\nimport { findRepoRoot } from '../cli/repo-root.js';" },
    { file: 'src/cli/main.ts', source: "import { run } from '../sim/run.js';\nimport { serve } from '../real/serve.js';" },
    { file: 'src/loose.ts', source: '' },
  ];
  assert.equal(offences(files), [
    'src/raft/log.ts imports src/sim/scenario.ts (raft may not depend on sim)',
    'src/vmm/vmm.ts imports src/host/runtime.ts (vmm may not depend on host)',
    'src/sim/run.ts imports src/real/serve.ts (sim may not depend on real)',
    'src/real/host.ts imports src/cli/main.ts (real may not depend on cli)',
    'src/check/formats/kv-edn.ts imports src/sim/check/violation.ts (check may not depend on sim)',
    'src/host/runtime.ts imports src/cli/repo-root.ts (host may not depend on cli)',
    'src/loose.ts is in no known module (expected src/<raft|vmm|host|check|input|sim|real|cli>/...)',
  ]);
});

test('no file under src/ imports against the arrows', () => {
  const root = findRepoRoot();
  const files = tsFiles(path.join(root, 'src')).map((p) => ({
    file: path.relative(root, p).split(path.sep).join('/'),
    source: readFileSync(p, 'utf8'),
  }));
  assert.ok(files.length > 50, `expected to scan src/, found ${files.length} files`);
  const crossing = files.flatMap(({ file, source }) => importsOf(file, source).map((s) => target(file, s)).filter((t) => t !== undefined && moduleOf(t) !== moduleOf(file)));
  assert.ok(crossing.length > 100, `expected the scan to see the imports between modules, saw ${crossing.length}`);
  const bad = offences(files);
  assert.equal(bad, [], bad.join('\n'));
});

test.run();
