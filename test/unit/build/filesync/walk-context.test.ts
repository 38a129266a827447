import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FileSyncError } from '../../../../src/build/filesync/filesync-error.js'
import { GoMode } from '../../../../src/build/filesync/file-mode.js'
import { walkContext, type WalkEntry, type WalkOptions } from '../../../../src/build/filesync/walk-context.js'
import { CanceledError } from '../../../../src/grpc/errors.js'

let root: string
let outside: string

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-walk-'))
  outside = await mkdtemp(join(tmpdir(), 'csdk-walk-outside-'))
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
  await rm(outside, { recursive: true, force: true })
})

/** Makes files (content string) and directories (trailing `/`) under the root. */
async function make(paths: string[]): Promise<void> {
  for (const p of paths) {
    const host = join(root, p)
    if (p.endsWith('/')) await mkdir(host, { recursive: true })
    else {
      await mkdir(dirname(host), { recursive: true })
      await writeFile(host, `content of ${p}`)
    }
  }
}

async function walk(options: WalkOptions = {}): Promise<WalkEntry[]> {
  const out: WalkEntry[] = []
  for await (const e of walkContext(root, options)) out.push(e)
  return out
}
const paths = async (options: WalkOptions = {}): Promise<string[]> => (await walk(options)).map((e) => e.stat.path)

describe('walkContext order', () => {
  it('is pre-order with names sorted by bytes per directory (a, a/b, a.b)', async () => {
    await make(['a.b', 'a/b', 'a/c/d', 'B', 'b'])
    expect(await paths()).toEqual(['B', 'a', 'a/b', 'a/c', 'a/c/d', 'a.b', 'b'])
  })

  it('sorts by UTF-8 bytes, not UTF-16 units nor locale', async () => {
    // U+FF01 (EF BC 81) sorts before U+1F600 (F0 9F 98 80) in bytes, after it in UTF-16 (D83D…).
    await make(['\u{1F600}', '\uFF01', 'é', 'z', 'Z'])
    expect(await paths()).toEqual(['Z', 'z', 'é', '\uFF01', '\u{1F600}'])
  })

  it('skips the root and gives relative slash paths', async () => {
    await make(['x/y/z'])
    const entries = await walk()
    expect(entries.map((e) => e.stat.path)).toEqual(['x', 'x/y', 'x/y/z'])
    expect(entries[2]?.hostPath).toBe(join(await import('node:fs/promises').then((f) => f.realpath(root)), 'x', 'y', 'z'))
  })
})

describe('walkContext stats', () => {
  it('gives Go modes, uid/gid 0, size 0 for directories, lstat nanosecond mtimes', async () => {
    await make(['d/', 'f'])
    const [d, f] = await walk()
    const fst = await lstat(join(root, 'f'), { bigint: true })
    expect(d?.stat.mode).toBe((GoMode.dir | 0o755 & Number((await lstat(join(root, 'd'))).mode)) >>> 0)
    expect(d?.stat.size).toBe(0n)
    expect(f?.stat).toMatchObject({ uid: 0, gid: 0, size: fst.size, modTime: fst.mtimeNs, linkname: '' })
    expect(f?.stat.mode).toBe(Number(fst.mode) & 0o777)
  })

  it('gives Go bits for a FIFO, a character device (with its numbers) and clears the socket bit', async () => {
    execFileSync('mkfifo', [join(root, 'fifo')])
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(join(root, 'sock'), resolve))
    const asRoot = process.getuid?.() === 0
    if (asRoot) execFileSync('mknod', [join(root, 'null'), 'c', '1', '3'])
    try {
      const byPath = new Map((await walk()).map((e) => [e.stat.path, e.stat]))
      expect((byPath.get('fifo')?.mode ?? 0) & ~0o777).toBe(GoMode.namedPipe)
      // fsutil clears ModeSocket (archive/tar cannot carry it): only the permissions remain.
      expect((byPath.get('sock')?.mode ?? -1) & ~0o777).toBe(0)
      if (asRoot) {
        expect(byPath.get('null')).toMatchObject({ mode: GoMode.device | GoMode.charDevice | 0o644, devmajor: 1n, devminor: 3n })
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('lists symlinks without following them, even out of the root', async () => {
    await writeFile(join(outside, 'secret'), 'secret')
    await make(['in'])
    await symlink(outside, join(root, 'out'))
    await symlink('in', join(root, 'rel'))
    const entries = await walk()
    expect(entries.map((e) => e.stat.path)).toEqual(['in', 'out', 'rel'])
    const out = entries[1]?.stat
    expect(out?.linkname).toBe(outside)
    expect((out?.mode ?? 0) & GoMode.symlink).toBeTruthy()
    expect(out?.size).toBe(BigInt(outside.length))
  })

  it('marks later hard links with the first path and size 0', async () => {
    await make(['a/file'])
    await link(join(root, 'a/file'), join(root, 'b'))
    await link(join(root, 'a/file'), join(root, 'c'))
    const entries = await walk()
    const byPath = new Map(entries.map((e) => [e.stat.path, e.stat]))
    expect(byPath.get('a/file')).toMatchObject({ linkname: '', size: BigInt('content of a/file'.length) })
    expect(byPath.get('b')).toMatchObject({ linkname: 'a/file', size: 0n })
    expect(byPath.get('c')).toMatchObject({ linkname: 'a/file', size: 0n })
  })

  it('takes the first listed path as the link origin when the first one is filtered out', async () => {
    await make(['a/file'])
    await link(join(root, 'a/file'), join(root, 'b'))
    const entries = await walk({ excludePatterns: ['a'] })
    expect(entries.map((e) => [e.stat.path, e.stat.linkname])).toEqual([['b', '']])
  })

  it('rejects a missing root or a file as root', async () => {
    await expect(collect(join(root, 'nope'))).rejects.toMatchObject({ reason: 'BadContext' })
    await make(['f'])
    await expect(collect(join(root, 'f'))).rejects.toBeInstanceOf(FileSyncError)
  })

  it('stops with CanceledError when aborted', async () => {
    await make(['a', 'b', 'c'])
    const ac = new AbortController()
    const seen: string[] = []
    const run = async (): Promise<void> => {
      for await (const e of walkContext(root, { signal: ac.signal })) {
        seen.push(e.stat.path)
        ac.abort(new Error('enough'))
      }
    }
    const err: unknown = await run().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect((err as Error).cause).toMatchObject({ message: 'enough' })
    expect(seen).toEqual(['a'])
  })
})

async function collect(at: string): Promise<string[]> {
  const out: string[] = []
  for await (const e of walkContext(at)) out.push(e.stat.path)
  return out
}

describe('walkContext exclude patterns (.dockerignore)', () => {
  it('leaves out matches and everything below an excluded directory', async () => {
    await make(['node_modules/x/y', 'src/a.ts', 'src/a.log', 'b.log', '.git/HEAD'])
    expect(await paths({ excludePatterns: ['node_modules', '**/*.log', '.git'] })).toEqual(['src', 'src/a.ts'])
  })

  it('walks an excluded directory for an exception below it, listing only the kept path and its parents', async () => {
    await make(['docs/a.md', 'docs/keep/b.md', 'docs/keep/c.txt', 'docs/z/x', 'top'])
    expect(await paths({ excludePatterns: ['docs', '!docs/keep'] })).toEqual(['docs', 'docs/keep', 'docs/keep/b.md', 'docs/keep/c.txt', 'top'])
    expect(await paths({ excludePatterns: ['docs', '!docs/keep/c.txt'] })).toEqual(['docs', 'docs/keep', 'docs/keep/c.txt', 'top'])
  })

  it('walks excluded directories when an exception has wildcards', async () => {
    await make(['a/x.md', 'a/x.txt', 'b/c/y.md', 'b/c/y.txt'])
    expect(await paths({ excludePatterns: ['*', '!**/*.md'] })).toEqual(['a', 'a/x.md', 'b', 'b/c', 'b/c/y.md'])
  })

  it('excludes everything with * but the exceptions', async () => {
    await make(['Dockerfile', 'app/main.js', 'other'])
    expect(await paths({ excludePatterns: ['*', '!app', '!Dockerfile'] })).toEqual(['Dockerfile', 'app', 'app/main.js'])
  })
})

describe('walkContext include patterns and followpaths', () => {
  it('lists only included paths, parents only when something below is included', async () => {
    await make(['a/b/c.txt', 'a/b/d.txt', 'a/e/', 'f.txt', 'g/h'])
    expect(await paths({ includePatterns: ['a/b/c.txt', 'f.txt'] })).toEqual(['a', 'a/b', 'a/b/c.txt', 'f.txt'])
    expect(await paths({ includePatterns: ['a/b'] })).toEqual(['a', 'a/b', 'a/b/c.txt', 'a/b/d.txt'])
  })

  it('handles wildcard includes by walking everything', async () => {
    await make(['a/x.go', 'a/y.txt', 'b/c/z.go', 'd/'])
    expect(await paths({ includePatterns: ['**/*.go'] })).toEqual(['a', 'a/x.go', 'b', 'b/c', 'b/c/z.go'])
  })

  it('combines include and exclude', async () => {
    await make(['src/a.ts', 'src/a.test.ts', 'README'])
    expect(await paths({ includePatterns: ['src'], excludePatterns: ['**/*.test.ts'] })).toEqual(['src', 'src/a.ts'])
  })

  it('followpaths include symlinks met along each path and their targets', async () => {
    await make(['real/Dockerfile', 'real/other', 'unrelated'])
    await symlink('real', join(root, 'link'))
    await symlink('real/Dockerfile', join(root, 'df'))
    expect(await paths({ followPaths: ['link/Dockerfile'] })).toEqual(['link', 'real', 'real/Dockerfile'])
    expect(await paths({ followPaths: ['df'] })).toEqual(['df', 'real', 'real/Dockerfile'])
  })

  it('followpaths of a missing path or of the root', async () => {
    await make(['a', 'b'])
    expect(await paths({ followPaths: ['missing'] })).toEqual([])
    expect(await paths({ followPaths: ['.'] })).toEqual(['a', 'b'])
    expect(await paths({ followPaths: ['.dockerignore', 'a'] })).toEqual(['a'])
  })

  it('followpaths never leave the root: absolute and ../ targets resolve inside it', async () => {
    await writeFile(join(outside, 'secret'), 'secret')
    await make(['secret'])
    await symlink(join(outside, 'secret'), join(root, 'abs'))
    await symlink('../../../../secret', join(root, 'up'))
    const entries = await walk({ followPaths: ['abs', 'up'] })
    // `abs` points at <outside>/secret: read as <root><outside>/secret, which does not exist; `up` clamps to /secret.
    expect(entries.map((e) => e.stat.path)).toEqual(['abs', 'secret', 'up'])
    for (const e of entries) expect(e.hostPath.startsWith(outside)).toBe(false)
  })

  it('followpaths survive symlink cycles', async () => {
    await symlink('b', join(root, 'a'))
    await symlink('a', join(root, 'b'))
    expect(await paths({ followPaths: ['a/x'] })).toEqual(['a', 'b'])
  })
})
