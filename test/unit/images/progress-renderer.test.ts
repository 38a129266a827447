import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createProgressRenderer, formatBytes } from '../../../src/images/progress-renderer.js'

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = []
  const w = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb() } }) as Writable & { isTTY: boolean; text: () => string }
  w.isTTY = isTTY
  w.text = () => chunks.join('')
  return w
}

const manifest = 'sha256:' + 'a'.repeat(64)
const layer = 'sha256:' + 'b'.repeat(64)

describe('pull progress renderer', () => {
  it('prints one plain line per status change, never per chunk', () => {
    const out = sink(false)
    let t = 0
    const r = createProgressRenderer(out, { now: () => t })
    r.onProgress({ status: 'resolving', ref: 'docker.io/library/busybox:latest' })
    r.onProgress({ status: 'downloading', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', current: 0, total: 2048 })
    r.onProgress({ status: 'downloading', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', current: 1024, total: 2048 })
    r.onProgress({ status: 'downloaded', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', total: 2048 })
    r.onProgress({ status: 'done', ref: 'x', digest: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', total: 400 })
    t = 1500
    r.finish()
    expect(out.text().split('\n').filter(Boolean)).toEqual([
      'docker.io/library/busybox:latest: resolving',
      `layer-${layer}: downloading (2.0 KiB)`,
      `layer-${layer}: downloaded (2.0 KiB)`,
      `manifest-${manifest}: done (400 B)`,
      'elapsed: 1.5 s    total: 2.0 KiB (1.3 KiB/s)',
    ])
  })

  it('without a TTY, the last line has the total and the rate the docs promise', () => {
    const out = sink(false)
    let t = 0
    const r = createProgressRenderer(out, { now: () => t })
    r.onProgress({ status: 'downloading', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', current: 0, total: 4096 })
    r.onProgress({ status: 'downloaded', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', total: 4096 })
    t = 2000
    r.finish()
    expect(out.text().split('\n').filter(Boolean).at(-1)).toBe('elapsed: 2.0 s    total: 4.0 KiB (2.0 KiB/s)')
  })

  it('ends the reference line at done, not resolving, with an index whose manifest is done first', () => {
    const ref = 'docker.io/library/busybox:latest'
    const index = 'sha256:' + 'c'.repeat(64)
    const events = [
      { status: 'resolving', ref },
      { status: 'resolved', ref, digest: index, mediaType: 'application/vnd.oci.image.index.v1+json', total: 300 },
      { status: 'done', ref, digest: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', total: 400 },
      { status: 'done', ref, digest: index, mediaType: 'application/vnd.oci.image.index.v1+json', total: 300 },
    ] as const
    const plain = sink(false)
    const p = createProgressRenderer(plain, { now: () => 0 })
    for (const e of events) p.onProgress(e)
    p.finish()
    const lines = plain.text().split('\n').filter((l) => l.startsWith(`${ref}:`))
    expect(lines).toEqual([`${ref}: resolving`, `${ref}: resolved`, `${ref}: done`])
    // the manifest's 'done' did not end the reference: 'done' comes only after the index's
    const all = plain.text().split('\n')
    expect(all.indexOf(`${ref}: done`)).toBeGreaterThan(all.indexOf(`manifest-${manifest}: done (400 B)`))

    const term = sink(true)
    const q = createProgressRenderer(term, { now: () => 0, barWidth: 4 })
    for (const e of events) q.onProgress(e)
    q.finish()
    // the last frame: what follows the last cursor-up sequence
    const text = term.text()
    const last = text.slice(text.lastIndexOf('A\x1b[2K'))
    expect(last).toMatch(new RegExp(`${ref.replace(/[.:/]/g, '\\$&')}:\\s+done\\s+\\|\\+\\+\\+\\+\\|`))
    expect(last).not.toContain('resolving')
  })

  it('a transfer pull (a digest-less done) ends the reference line too', () => {
    const out = sink(false)
    const r = createProgressRenderer(out, { now: () => 0 })
    r.onProgress({ status: 'resolving', ref: 'x' })
    r.onProgress({ status: 'done', ref: 'x' })
    r.finish()
    expect(out.text().split('\n').filter(Boolean)).toEqual(['x: resolving', 'x: done', 'elapsed: 0.0 s    total: 0 B (0 B/s)'])
  })

  it('redraws bars in place on a terminal, with totals and rate', () => {
    const out = sink(true)
    let t = 0
    const r = createProgressRenderer(out, { now: () => t, barWidth: 10 })
    r.onProgress({ status: 'downloading', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', current: 0, total: 4096 })
    t = 1000
    r.onProgress({ status: 'downloading', ref: 'x', digest: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', current: 2048, total: 4096 })
    r.finish()
    const text = out.text()
    expect(text).toContain('\x1b[2A') // moved up over the previous drawing (one row + the totals line)
    expect(text).toContain('|+++++-----| 2.0 KiB/4.0 KiB')
    expect(text).toContain('total: 2.0 KiB (2.0 KiB/s)')
  })

  it('formats byte counts', () => {
    expect(formatBytes(12)).toBe('12 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(300 * 1024 * 1024)).toBe('300.0 MiB')
  })
})
