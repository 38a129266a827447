/**
 * The TypeScript examples of the user docs (README.md and docs/guide-*.md), as the doc-example runner
 * sees them. Every ```ts block is one of two kinds, chosen by its info string:
 *
 * - ```ts — a program: self-contained (its imports at the top), type-checked against the package's
 *   source and run against the daemon under test (test/integration/docs-examples.test.ts). It connects
 *   with `Client.connect()`'s defaults, which the runner points at a fresh namespace.
 * - ```ts snippet — context only: a fragment that uses names the prose around it set up (`client`,
 *   `image`, … declared in doc-prelude.ts); type-checked, never run. Kept for what a program cannot show
 *   on a test machine, so there are few of them.
 *
 * Other words after `ts` are refused, so a typo cannot turn a program into something nobody runs, and so
 * are other TypeScript/JavaScript fences (`typescript`, `js`, …), which nothing would check.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'

/** The kind of a doc block: see the module comment. */
export type DocBlockKind = 'program' | 'snippet'

/** One ```ts block of a doc. */
export interface DocBlock {
  /** The markdown file, relative to the repository root (`README.md`, `docs/guide-client.md`). */
  file: string
  /** The 1-based line of the block's first code line (the line after the opening fence). */
  line: number
  /** How far the fence is indented (blocks inside list items); stripped from every code line. */
  indent: number
  /** What the runner does with it. */
  kind: DocBlockKind
  /** The code, without the fences and the indentation. */
  code: string
}

/** Where the block is, as `file:line`, for test names and messages. */
export function blockName(block: DocBlock): string {
  return `${block.file}:${block.line}`
}

/** The docs whose examples are checked: README.md and docs/guide-*.md, in a stable order. */
export function docFiles(root: string): string[] {
  const guides = readdirSync(join(root, 'docs'))
    .filter((name) => /^guide-.*\.md$/.test(name))
    .sort()
    .map((name) => join(root, 'docs', name))
  return [join(root, 'README.md'), ...guides]
}

/** Every ```ts block of every doc (see {@link docFiles}). */
export function readDocBlocks(root: string): DocBlock[] {
  return docFiles(root).flatMap((path) => extractBlocks(relative(root, path), readFileSync(path, 'utf8')))
}

/** Fences of code that nothing would check: write ```ts (or ```ts snippet) instead. */
const UNCHECKED_LANGUAGES = new Set(['typescript', 'js', 'javascript', 'mjs', 'cjs', 'mts', 'tsx', 'jsx'])

/**
 * The ```ts blocks of one markdown text.
 * @param file the file's name in messages and in the blocks.
 * @throws Error for an unclosed fence, an unknown attribute after `ts`, an unchecked language, or a code
 *   line indented less than its fence.
 */
export function extractBlocks(file: string, text: string): DocBlock[] {
  const lines = text.split('\n')
  const blocks: DocBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)(`{3,}|~{3,})\s*(.*)$/.exec(lines[i] ?? '')
    if (open === null) continue
    const [, spaces = '', fence = '', info = ''] = open
    const indent = spaces.length
    // The closing fence: the same character, at least as long, nothing after it (CommonMark).
    const closes = (line: string): boolean => new RegExp(`^ *${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(line)
    let end = i + 1
    while (end < lines.length && !closes(lines[end] ?? '')) end++
    if (end >= lines.length) throw new Error(`${file}:${i + 1}: the code fence is never closed`)
    const [language = '', ...attributes] = info.trim().split(/\s+/).filter(Boolean)
    if (UNCHECKED_LANGUAGES.has(language.toLowerCase())) {
      throw new Error(`${file}:${i + 1}: a \`\`\`${language} block is never checked: write \`\`\`ts (a program) or \`\`\`ts snippet`)
    }
    if (language === 'ts') {
      const unknown = attributes.filter((a) => a !== 'snippet')
      if (unknown.length > 0) throw new Error(`${file}:${i + 1}: unknown attribute ${unknown.join(' ')} after ts: the only one is "snippet"`)
      const body = lines.slice(i + 1, end).map((line, n) => {
        if (line.trim() === '') return ''
        if (!line.startsWith(' '.repeat(indent))) throw new Error(`${file}:${i + 2 + n}: a code line is indented less than its fence`)
        return line.slice(indent)
      })
      blocks.push({ file, line: i + 2, indent, kind: attributes.includes('snippet') ? 'snippet' : 'program', code: body.join('\n') })
    }
    i = end
  }
  return blocks
}
