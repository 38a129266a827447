import { describe, expect, it } from 'vitest'
import { GoMode, goFileMode, isRegularGoMode, unixPermissions } from '../../../../src/build/filesync/file-mode.js'

const mode = (m: number): number => goFileMode({ mode: BigInt(m) })

describe('goFileMode', () => {
  it('keeps permissions of a regular file and adds no type bits', () => {
    expect(mode(0o100644)).toBe(0o644)
    expect(isRegularGoMode(mode(0o100755))).toBe(true)
  })

  it('maps each file type to Go bits, never S_IF bits', () => {
    expect(mode(0o040755)).toBe((0x8000_0000 | 0o755) >>> 0)
    expect(mode(0o040755)).toBeGreaterThan(0) // unsigned, not a negative int32
    expect(mode(0o120777)).toBe((1 << 27) | 0o777)
    expect(mode(0o060660)).toBe((1 << 26) | 0o660)
    expect(mode(0o020666)).toBe((1 << 26) | (1 << 21) | 0o666)
    expect(mode(0o010644)).toBe((1 << 25) | 0o644)
    expect(mode(0o140755)).toBe((1 << 24) | 0o755)
  })

  it('maps setuid, setgid and sticky', () => {
    expect(mode(0o104755)).toBe((1 << 23) | 0o755)
    expect(mode(0o102755)).toBe((1 << 22) | 0o755)
    expect(mode(0o041777)).toBe((0x8000_0000 | (1 << 20) | 0o777) >>> 0)
  })

  it('only regular files carry data', () => {
    for (const m of [0o040755, 0o120777, 0o020666, 0o010644, 0o140755]) expect(isRegularGoMode(mode(m))).toBe(false)
  })

  it('turns Go special bits back into chmod bits', () => {
    expect(unixPermissions(GoMode.setuid | GoMode.setgid | GoMode.sticky | 0o751)).toBe(0o7751)
    expect(unixPermissions((GoMode.dir | 0o700) >>> 0)).toBe(0o700)
  })
})
