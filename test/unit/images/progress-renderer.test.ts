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
      'elapsed: 1.5 s',
    ])
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
