/**
 * Reading the host's rules the way the cleanups need them: one table's `iptables-save` text, and a saved
 * rule line split back into the arguments that made it (so `-D` with them deletes it).
 */

import { execFile } from 'node:child_process'

/**
 * One table's rules as `iptables-save` (or `ip6tables-save`) prints them; `''` when the tool is missing
 * or fails (the cleanups are best effort).
 */
export function saveTable(tool: 'iptables-save' | 'ip6tables-save', table: 'nat' | 'filter', timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve) => {
    execFile(tool, ['-t', table], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024 }, (err, stdout) => resolve(err === null ? stdout : ''))
  })
}

/**
 * Splits an `iptables-save` rule line into arguments: words, and double-quoted strings whose `\"` and
 * `\\` are unescaped (the form comments are saved in).
 */
export function splitSavedRule(line: string): string[] {
  const args: string[] = []
  let current = ''
  let quoted = false
  let inWord = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (quoted) {
      if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) current += line[++i] as string
      else if (c === '"') quoted = false
      else current += c
    } else if (c === '"') {
      quoted = true
      inWord = true
    } else if (c === ' ' || c === '\t') {
      if (inWord) args.push(current)
      current = ''
      inWord = false
    } else {
      current += c
      inWord = true
    }
  }
  if (inWord) args.push(current)
  return args
}
