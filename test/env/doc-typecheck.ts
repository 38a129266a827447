/**
 * Writes the docs' ```ts blocks out as TypeScript files and type-checks them against the package's source,
 * with `containerd-sdk` and `containerd-sdk/testing` mapped to src/ as tsconfig.json does, so a doc that
 * names a removed or renamed API fails here. Errors are reported at their place in the markdown.
 *
 * A program is written as it is. A snippet is wrapped: its imports are hoisted, and its body goes in an
 * async function whose outer scope destructures the prelude (doc-prelude.ts), so the snippet may use
 * `client`, `image`, … or declare its own.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { blockName, type DocBlock } from './doc-blocks.js'
import { PRELUDE_NAMES } from './doc-prelude.js'

/** The repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A block written out: the file and, per 0-based line of it, the 1-based markdown line it came from. */
export interface WrittenBlock {
  /** The block. */
  block: DocBlock
  /** The absolute path of its .ts file. */
  path: string
  /** The markdown line of each line of the file; undefined for lines the wrapper added. */
  lines: (number | undefined)[]
}

/** The .ts file name of a block: readable, unique per place (`docs-guide-client-md-L42.ts`). */
function fileName(block: DocBlock): string {
  return `${block.file.replace(/[^A-Za-z0-9]+/g, '-')}-L${block.line}.ts`
}

/**
 * Writes every block as a module under `dir`, with the tsconfig.json (and the `"type": "module"`
 * package.json) that both `tsc` and `tsx` read there.
 */
export function writeDocBlocks(blocks: readonly DocBlock[], dir: string): WrittenBlock[] {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n')
  writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(docTsconfig(), null, 2)}\n`)
  return blocks.map((block) => {
    const written = block.kind === 'program' ? programFile(block) : snippetFile(block)
    const path = join(dir, fileName(block))
    writeFileSync(path, written.text)
    return { block, path, lines: written.lines }
  })
}

/**
 * The project's compiler options, with absolute paths so the config works from a temp dir: the package
 * names mapped to src/, and Node's types from the repository's node_modules.
 */
function docTsconfig(): object {
  return {
    extends: join(REPO_ROOT, 'tsconfig.json'),
    compilerOptions: {
      noEmit: true,
      typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
      paths: {
        'containerd-sdk': [join(REPO_ROOT, 'src', 'index.ts')],
        'containerd-sdk/testing': [join(REPO_ROOT, 'src', 'testing', 'index.ts')],
        'containerd-sdk/network': [join(REPO_ROOT, 'src', 'network', 'index.ts')],
        'containerd-sdk/build': [join(REPO_ROOT, 'src', 'build', 'index.ts')],
      },
    },
    include: ['*.ts'],
  }
}

/** A program as it is; `export {}` makes even an import-less block a module (top-level await). */
function programFile(block: DocBlock): { text: string; lines: (number | undefined)[] } {
  const code = block.code.split('\n')
  return { text: `${code.join('\n')}\nexport {}\n`, lines: code.map((_, i) => block.line + i) }
}

/** A snippet with its imports hoisted and its body wrapped in the prelude's scope. */
function snippetFile(block: DocBlock): { text: string; lines: (number | undefined)[] } {
  const code = block.code.split('\n')
  const source = ts.createSourceFile('snippet.ts', block.code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const importLines = new Set<number>()
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue
    const first = source.getLineAndCharacterOfPosition(statement.getStart(source)).line
    const last = source.getLineAndCharacterOfPosition(statement.getEnd()).line
    for (let l = first; l <= last; l++) importLines.add(l)
  }
  const out: string[] = []
  const lines: (number | undefined)[] = []
  const add = (text: string, mdLine?: number): void => {
    out.push(text)
    lines.push(mdLine)
  }
  for (const l of [...importLines].sort((a, b) => a - b)) add(code[l] ?? '', block.line + l)
  add(`import { prelude as __prelude } from ${JSON.stringify(join(REPO_ROOT, 'test', 'env', 'doc-prelude.js'))}`)
  add('export async function __snippet(): Promise<void> {')
  add(`  const { ${PRELUDE_NAMES.join(', ')} } = __prelude`)
  add('  {')
  code.forEach((text, l) => add(importLines.has(l) ? '' : text, block.line + l))
  add('  }')
  add('}')
  return { text: `${out.join('\n')}\n`, lines }
}

/**
 * Type-checks the written blocks as one program and returns the errors in them, each as
 * `file.md:line:column - error TSxxxx: message`. Errors in other files (the package's source) are not
 * the docs' and are left out.
 */
export function typecheckDocBlocks(written: readonly WrittenBlock[], dir: string): string[] {
  const configPath = join(dir, 'tsconfig.json')
  const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    },
  })
  if (config === undefined) throw new Error(`cannot read ${configPath}`)
  const program = ts.createProgram({ rootNames: written.map((w) => w.path), options: config.options })
  const byPath = new Map(written.map((w, index) => [resolve(w.path), { w, index }]))
  // Sorted by block, then by line, so they read like the docs.
  const errors: { index: number; line: number; text: string }[] = []
  for (const d of [...config.errors, ...ts.getPreEmitDiagnostics(program)]) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    const found = d.file === undefined ? undefined : byPath.get(resolve(d.file.fileName))
    if (d.file !== undefined && found === undefined) continue
    if (found === undefined || d.file === undefined || d.start === undefined) {
      errors.push({ index: -1, line: 0, text: `error TS${d.code}: ${message}` })
      continue
    }
    const { w, index } = found
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
    const mdLine = w.lines[line]
    const where = mdLine === undefined ? `${blockName(w.block)} (the snippet wrapper)` : `${w.block.file}:${mdLine}:${character + 1 + w.block.indent}`
    errors.push({ index, line, text: `${where} - error TS${d.code}: ${message}` })
  }
  return errors.sort((a, b) => a.index - b.index || a.line - b.line).map((e) => e.text)
}
