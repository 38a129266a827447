import { chmod, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { GoMode } from '../../../../src/build/filesync/file-mode.js'
import { FileSyncError } from '../../../../src/build/filesync/filesync-error.js'
import { PacketType, type FsutilStat } from '../../../../src/build/filesync/fsutil-types.js'
import { receiveFiles } from '../../../../src/build/filesync/receive-files.js'
import { sendContext } from '../../../../src/build/filesync/send-context.js'
import { CanceledError } from '../../../../src/grpc/errors.js'
import { openFilesUnder } from './open-files.js'
import { packetPipe, type PipeEnd } from './packet-pipe.js'

let base: string
let src: string
let dst: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'csdk-recv-'))
  src = join(base, 'src')
  dst = join(base, 'dst')
  await mkdir(src)
})
afterEach(async () => {
  await rm(base, { recursive: true, force: true })
})

function statOf(path: string, over: Partial<FsutilStat> = {}): FsutilStat {
  return { path, mode: 0o644, uid: 0, gid: 0, size: 0n, modTime: 0n, linkname: '', devmajor: 0n, devminor: 0n, xattrs: {}, ...over }
}
const dirStat = (path: string): FsutilStat => statOf(path, { mode: (GoMode.dir | 0o755) >>> 0 })

/** Plays a sender that lists `stats`, then serves REQs with `content(path)`, then answers FIN. */
async function fakeSender(end: PipeEnd, stats: FsutilStat[], content: (path: string) => string = (p) => `data of ${p}`): Promise<void> {
  for (const s of stats) await end.send({ type: PacketType.STAT, stat: s })
  await end.send({ type: PacketType.STAT })
  for await (const p of end.receive()) {
    if (p.type === PacketType.REQ) {
      const path = stats[p.id ?? 0]?.path ?? ''
      await end.send({ type: PacketType.DATA, id: p.id ?? 0, data: Buffer.from(content(path)) })
      await end.send({ type: PacketType.DATA, id: p.id ?? 0 })
    } else if (p.type === PacketType.FIN) {
      await end.send({ type: PacketType.FIN })
      end.close()
      return
    } else if (p.type === PacketType.ERR) {
      end.close()
      return
    }
  }
}

describe('receiveFiles', () => {
  it('round-trips a tree from sendContext: contents, modes, mtimes, symlinks, hard links', async () => {
    await mkdir(join(src, 'dir/sub'), { recursive: true })
    await writeFile(join(src, 'dir/sub/f'), 'hello')
    await writeFile(join(src, 'exe'), '#!/bin/sh\n')
    await chmod(join(src, 'exe'), 0o4755)
    await writeFile(join(src, 'big'), Buffer.alloc(2 * 1024 * 1024 + 5, 3))
    await link(join(src, 'exe'), join(src, 'hard'))
    await symlink('dir/sub/f', join(src, 'ln'))
    await chmod(join(src, 'dir'), 0o750)
    await utimes(join(src, 'dir/sub/f'), 1_600_000_000.5, 1_600_000_000.5)
    await utimes(join(src, 'dir'), 1_500_000_000, 1_500_000_000)
    const [a, b] = packetPipe()
    const [sent, got] = await Promise.all([sendContext(src, {}, a), receiveFiles(dst, b)])
    expect(got).toEqual({ entries: 7, files: 3, bytes: 5 + 10 + 2 * 1024 * 1024 + 5 })
    expect(sent.filesSent).toBe(3)
    expect(await readFile(join(dst, 'dir/sub/f'), 'utf8')).toBe('hello')
    expect((await readFile(join(dst, 'big'))).equals(await readFile(join(src, 'big')))).toBe(true)
    expect((await stat(join(dst, 'exe'))).mode & 0o7777).toBe(0o4755)
    expect((await stat(join(dst, 'dir'))).mode & 0o777).toBe(0o750)
    expect((await stat(join(dst, 'dir'))).mtimeMs).toBe(1_500_000_000_000)
    expect(Math.abs((await stat(join(dst, 'dir/sub/f'))).mtimeMs - 1_600_000_000_500)).toBeLessThan(1)
    expect(await readlink(join(dst, 'ln'))).toBe('dir/sub/f')
    expect((await stat(join(dst, 'hard'))).ino).toBe((await stat(join(dst, 'exe'))).ino)
  })

  it('replaces what is in the target, and never writes through a symlink already there', async () => {
    const outside = join(base, 'outside')
    await mkdir(outside)
    await mkdir(dst)
    await symlink(outside, join(dst, 'd'))
    await symlink(join(outside, 'victim'), join(dst, 'f'))
    const [a, b] = packetPipe()
    await Promise.all([fakeSender(a, [dirStat('d'), statOf('d/x'), statOf('f')]), receiveFiles(dst, b)])
    expect((await lstat(join(dst, 'd'))).isDirectory()).toBe(true)
    expect((await lstat(join(dst, 'f'))).isFile()).toBe(true)
    expect(await readFile(join(dst, 'd/x'), 'utf8')).toBe('data of d/x')
    await expect(readFile(join(outside, 'victim'))).rejects.toThrow()
    await expect(readFile(join(outside, 'x'))).rejects.toThrow()
  })

  const escapes: [string, FsutilStat[]][] = [
    ['..', [statOf('../escape')]],
    ['a nested ..', [dirStat('a'), statOf('a/../../escape')]],
    ['an absolute path', [statOf('/tmp/escape')]],
    ['a dot component', [statOf('./x')]],
    ['an empty component', [dirStat('a'), statOf('a//x')]],
    ['a NUL', [statOf('a\0b')]],
    ['a path through a symlink of the listing', [statOf('l', { mode: GoMode.symlink | 0o777, linkname: '/tmp' }), statOf('l/x')]],
    ['a path whose parent was never listed', [statOf('nodir/x')]],
    ['a hard link to an unlisted file', [statOf('h', { linkname: 'elsewhere' })]],
    ['a hard link with ..', [statOf('f'), statOf('h', { linkname: '../f' })]],
  ]
  for (const [name, stats] of escapes) {
    it(`refuses ${name} and tells the sender`, async () => {
      const [a, b] = packetPipe()
      const [, err] = await Promise.all([fakeSender(a, stats), receiveFiles(dst, b).catch((e: unknown) => e)])
      expect(err).toBeInstanceOf(FileSyncError)
      expect(err).toMatchObject({ reason: 'UnsafePath' })
      expect(b.sent.at(-1)?.type).toBe(PacketType.ERR)
      await expect(readFile(join(base, 'escape'))).rejects.toThrow()
    })
  }

  it('refuses entries out of order', async () => {
    const [a, b] = packetPipe()
    const [, err] = await Promise.all([fakeSender(a, [statOf('b'), statOf('a')]), receiveFiles(dst, b).catch((e: unknown) => e)])
    expect(err).toMatchObject({ reason: 'Protocol', message: expect.stringMatching(/out of order/) as unknown })
  })

  it('takes a.b after a/x (walk order, not string order)', async () => {
    const [a, b] = packetPipe()
    await Promise.all([fakeSender(a, [dirStat('a'), statOf('a/x'), statOf('a.b')]), receiveFiles(dst, b)])
    expect(await readFile(join(dst, 'a.b'), 'utf8')).toBe('data of a.b')
  })

  it('rejects with the sender’s text on ERR', async () => {
    const [a, b] = packetPipe()
    const receiving = receiveFiles(dst, b)
    await a.send({ type: PacketType.ERR, data: Buffer.from('export failed') })
    await expect(receiving).rejects.toMatchObject({ reason: 'PeerError', message: 'error from sender: export failed' })
    expect(b.sent.some((p) => p.type === PacketType.ERR)).toBe(false)
  })

  it('rejects DATA for an ID it did not ask for', async () => {
    const [a, b] = packetPipe()
    const receiving = receiveFiles(dst, b)
    await a.send({ type: PacketType.DATA, id: 5, data: Buffer.from('x') })
    await expect(receiving).rejects.toMatchObject({ reason: 'Protocol' })
  })

  it('rejects when the stream ends early, and on abort closes the open file', async () => {
    const [a, b] = packetPipe()
    const receiving = receiveFiles(dst, b)
    a.close()
    await expect(receiving).rejects.toMatchObject({ reason: 'Protocol' })

    const [c, d] = packetPipe()
    const ac = new AbortController()
    const receiving2 = receiveFiles(dst, d, ac.signal)
    await c.send({ type: PacketType.STAT, stat: statOf('f') })
    await c.send({ type: PacketType.STAT })
    await c.send({ type: PacketType.DATA, id: 0, data: Buffer.from('partial') })
    await new Promise((r) => setTimeout(r, 20))
    ac.abort('stop')
    const err: unknown = await receiving2.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    expect(await openFilesUnder(dst)).toEqual([])
  })
})
