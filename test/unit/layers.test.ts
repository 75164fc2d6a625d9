// The dependency rules of the layout (docs/design.md, section 7): which part of hubgate may import which,
// and no import cycles. It reads the imports of src/, lfs/, xet/ and hooks/ with TypeScript's parser
// (static imports, re-exports, dynamic import()), telling type-only imports apart, which the
// compiler erases.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCANNED = ['src', 'lfs', 'xet', 'hooks'];

interface Edge {
  from: string;
  to: string;
  /** Erased by the compiler: `import type`, `export type`, or every named binding marked `type`. */
  typeOnly: boolean;
}

const under = (file: string, dir: string) => file === dir || file.startsWith(`${dir}/`);
const inAny = (file: string, dirs: string[]) => dirs.some((dir) => under(file, dir));

/** One rule: the message for an edge that breaks it, else null. */
type Rule = (edge: Edge) => string | null;

const FRONT_ENDS = ['src/http', 'src/ssh', 'src/cli', 'hooks'];
const CORE = ['src/services', 'src/access', 'src/git', 'src/gating', 'src/identity', 'src/ops'];

/** `from` may import (types included) only from `allowed`. */
const onlyFrom = (from: string, allowed: string[]): Rule => (e) =>
  under(e.from, from) && !inAny(e.to, allowed) ? `${from} imports only ${allowed.join(', ')} (and node/npm)` : null;

const RULES: Rule[] = [
  onlyFrom('src/domain', ['src/domain']),
  onlyFrom('src/util', ['src/util']),
  onlyFrom('src/db', ['src/db', 'src/domain', 'src/util']),
  onlyFrom('lfs', ['lfs', 'src/domain', 'src/util']),
  onlyFrom('xet', ['xet', 'src/domain', 'src/util']),
  (e) => under(e.to, 'src/http') && !inAny(e.from, ['src/http', 'src/server.ts', 'src/cli']) ? 'only src/http, src/server.ts and src/cli import src/http' : null,
  (e) => under(e.to, 'src/ssh') && !inAny(e.from, ['src/ssh', 'src/server.ts']) ? 'only src/ssh and src/server.ts import src/ssh' : null,
  // The SSH front end, like HTTP's, reaches the rest through services, access, identity, git, domain and util (db: types only).
  (e) => under(e.from, 'src/ssh') && !inAny(e.to, ['src/ssh', 'src/services', 'src/access', 'src/identity', 'src/git', 'src/domain', 'src/util', 'src/ops', 'src/config.ts']) && !(under(e.to, 'src/db') && e.typeOnly) ? 'src/ssh imports only src/services, src/access, src/identity, src/git, src/domain, src/util, src/ops (types), src/config.ts (types) and src/db types' : null,
  (e) => inAny(e.from, FRONT_ENDS) && under(e.to, 'src/db') && !e.typeOnly ? 'front ends (src/http, src/ssh, src/cli, hooks) reach the database through src/services, not src/db (type-only imports aside)' : null,
  (e) => inAny(e.from, FRONT_ENDS) && under(e.to, 'src/cli') && !under(e.from, 'src/cli') ? 'front ends do not import the CLI' : null,
  (e) => inAny(e.from, CORE) && inAny(e.to, ['src/http', 'src/ssh', 'src/cli']) ? `${CORE.join(', ')} never import src/http, src/ssh or src/cli` : null,
  (e) => e.to === 'src/server.ts' && !inAny(e.from, ['src/server.ts', 'src/cli']) ? 'only the CLI imports the composition root (src/server.ts)' : null,
];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(rel);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** A relative specifier as the project file it names (`./x.js` is `x.ts`); npm and node modules are not followed. */
function resolve(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)).replace(/\.js$/, '');
  const candidates = [`${target}.ts`, `${target}/index.ts`, target];
  // A specifier naming no file (tsc reports it) is kept as the file it would be, so its rule still applies.
  return candidates.find((c) => fs.existsSync(path.join(ROOT, c)) && fs.statSync(path.join(ROOT, c)).isFile()) ?? candidates[0];
}

function importsOf(file: string): Edge[] {
  const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { specifier: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      // `import { type A, type B }` is erased like `import type`; a bare `import './x'` runs it.
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((el) => el.isTypeOnly)));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly || (!!named && named.length > 0 && named.every((el) => el.isTypeOnly)) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.flatMap(({ specifier, typeOnly }) => {
    const to = resolve(file, specifier);
    return to ? [{ from: file, to, typeOnly }] : [];
  });
}

/**
 * One cycle per group of files that import each other at run time (type-only imports are erased,
 * so they cannot make one), as `a -> b -> a` from the group's first file by name: the shortest way back.
 */
function cyclesOf(edges: Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly && e.from !== e.to) next.set(e.from, [...new Set([...(next.get(e.from) ?? []), e.to])].sort());
  const reach = (start: string) => {
    const seen = new Set([start]);
    const queue = [start];
    for (const node of queue) for (const n of next.get(node) ?? []) if (!seen.has(n)) { seen.add(n); queue.push(n); }
    return seen;
  };
  const reachable = new Map([...next.keys()].map((file) => [file, reach(file)]));
  const done = new Set<string>();
  const cycles: string[] = [];
  for (const file of [...next.keys()].sort()) {
    if (done.has(file)) continue;
    const group = [...reachable.get(file)!].filter((other) => reachable.get(other)?.has(file));
    group.forEach((member) => done.add(member));
    if (group.length < 2) continue;
    // Breadth-first from the group's first file back to itself.
    const start = group.sort()[0];
    const before = new Map<string, string>();
    const queue = [start];
    for (const node of queue) {
      for (const n of next.get(node) ?? []) {
        if (n === start) {
          const loop = [start];
          for (let at: string | undefined = node; at !== start && at; at = before.get(at)) loop.splice(1, 0, at);
          cycles.push(`cycle ${[...loop, start].join(' -> ')}`);
          queue.length = 0;
          break;
        }
        if (!before.has(n) && group.includes(n)) { before.set(n, node); queue.push(n); }
      }
    }
  }
  return cycles;
}

function violationsOf(edges: Edge[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const edge of edges) {
    for (const rule of RULES) {
      const message = rule(edge);
      if (!message) continue;
      const key = `${edge.from} -> ${edge.to}`;
      found.set(key, [...new Set([...(found.get(key) ?? []), message])]);
    }
  }
  for (const cycle of cyclesOf(edges)) found.set(cycle, ['no import cycles']);
  return found;
}

describe('dependency rules', () => {
  const edges = SCANNED.flatMap(sourceFiles).flatMap(importsOf);

  it('reads the imports (the graph is not empty and sees type-only imports)', () => {
    expect(edges.length).toBeGreaterThan(100);
    expect(edges.some((e) => e.typeOnly)).toBe(true);
  });

  it('finds a cycle, and only through run-time imports', () => {
    const e = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly });
    expect(cyclesOf([e('b', 'c'), e('c', 'a'), e('a', 'b'), e('a', 'd')])).toEqual(['cycle a -> b -> c -> a']);
    expect(cyclesOf([e('a', 'b'), e('b', 'a', true)])).toEqual([]);
  });

  it('holds: no layer is imported from below, no cycles', () => {
    const found = [...violationsOf(edges)].map(([key, why]) => `${key}  (${why.join('; ')})`);
    expect(found, 'imports that break the dependency rules').toEqual([]);
  });
});
