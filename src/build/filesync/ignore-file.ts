/**
 * `.dockerignore` text to patterns, the way Docker reads it (moby/patternmatcher's `ignorefile.ReadAll`).
 */

import { cleanPath } from './pattern-matcher.js'

/**
 * The patterns of a `.dockerignore` file: a UTF-8 BOM dropped; lines starting with `#` skipped (only at
 * column 0: `  #x` is a pattern, as in Docker); each line trimmed, blank ones skipped; the pattern after an
 * optional `!` cleaned like Go's `filepath.Clean`, with one leading `/` removed (`/a` and `a` are the
 * same, both relative to the context root).
 * @returns the patterns in file order, ready for the walker's `excludePatterns`.
 */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = []
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  for (let line of lines) {
    // bufio.ScanLines drops one `\r` before the `\n`.
    if (line.endsWith('\r')) line = line.slice(0, -1)
    if (line.startsWith('#')) continue
    let pattern = line.trim()
    if (pattern === '') continue
    const invert = pattern.startsWith('!')
    if (invert) pattern = pattern.slice(1).trim()
    if (pattern.length > 0) {
      pattern = cleanPath(pattern)
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1)
    }
    out.push(invert ? `!${pattern}` : pattern)
  }
  return out
}
