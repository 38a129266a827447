import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { DEFAULT_PATH_ENV, defaultLinuxSpec } from '../../../src/oci/default-spec.js'
import { withImageConfig } from '../../../src/oci/image-config-option.js'
import {
  INIT_PATH,
  withDefaultPathEnv,
  withEnv,
  withEnvFile,
  withInit,
  withOomScoreAdj,
  withProcessArgs,
  withProcessCwd,
} from '../../../src/oci/process-options.js'
import type { Spec } from '../../../src/oci/runtime-spec.js'
import { applySpecOptions, type SpecOption } from '../../../src/oci/spec-options.js'

const apply = (...options: SpecOption[]): Spec => applySpecOptions(defaultLinuxSpec({ namespace: 'default', id: 'c1' }), options)
const lookupEnv = (name: string): string | undefined => ({ SECRET: 's3cret' })[name]

describe('args, cwd and env', () => {
  it('sets args and cwd', () => {
    const s = apply(withProcessArgs(['sh', '-c', 'echo hi']), withProcessCwd('/srv/app/'))
    expect(s.process?.args).toEqual(['sh', '-c', 'echo hi'])
    expect(s.process?.cwd).toBe('/srv/app')
    expect(() => withProcessArgs([])).toThrow(/args: the command is empty/)
    expect(() => withProcessCwd('app')).toThrow(/--workdir: "app" must be an absolute path/)
  })

  it('adds -e entries, resolving bare keys and unsetting unknown ones', () => {
    const s = apply(withEnv(['A=1', 'SECRET'], { lookupEnv }), withEnv(['A=2', 'A', 'B=3'], { lookupEnv }))
    expect(s.process?.env).toEqual(['SECRET=s3cret', 'B=3'])
  })

  it('adds an env file', () => {
    const s = apply(withEnvFile('# db\nDB_HOST=db\nDB_PASS="x y"\nSECRET\n', { lookupEnv }), withEnv(['DB_HOST=other']))
    expect(s.process?.env).toEqual(['DB_HOST=other', 'DB_PASS="x y"', 'SECRET=s3cret'])
    expect(() => withEnvFile('BAD KEY=1', { fileName: '.env' })).toThrow(/--env-file: env file .env line 1/)
  })

  it('adds the default PATH only when there is none', () => {
    expect(apply(withDefaultPathEnv()).process?.env).toEqual([DEFAULT_PATH_ENV])
    expect(apply(withEnv(['PATH=/opt/bin']), withDefaultPathEnv()).process?.env).toEqual(['PATH=/opt/bin'])
  })
})

describe('withOomScoreAdj', () => {
  it('sets the score in -1000..1000', () => {
    expect(apply(withOomScoreAdj(-500)).process?.oomScoreAdj).toBe(-500)
    expect(apply(withOomScoreAdj(0)).process?.oomScoreAdj).toBe(0)
    expect(() => withOomScoreAdj(1001)).toThrow(/--oom-score-adj: 1001 is out of range/)
    expect(() => withOomScoreAdj(0.5)).toThrow(InvalidArgumentError)
  })
})

describe('withInit', () => {
  it('bind-mounts the init read-only at /sbin/docker-init and runs the command under it', () => {
    const s = apply(withImageConfig({ Entrypoint: ['/app'], Cmd: ['--serve'] }), withInit('/usr/bin/tini-static'))
    expect(s.process?.args).toEqual([INIT_PATH, '--', '/app', '--serve'])
    expect(s.mounts?.at(-1)).toEqual({ destination: '/sbin/docker-init', type: 'bind', source: '/usr/bin/tini-static', options: ['bind', 'ro'] })
  })

  it('does not stack when applied twice', () => {
    const s = apply(withProcessArgs(['/app']), withInit('/tini'), withInit('/tini'))
    expect(s.process?.args).toEqual([INIT_PATH, '--', '/app'])
    expect(s.mounts?.filter((m) => m.destination === INIT_PATH)).toHaveLength(1)
  })

  it('needs an absolute path and a command', () => {
    expect(() => withInit('tini')).toThrow(/--init: "tini" must be an absolute host path/)
    expect(() => apply(withInit('/tini'))).toThrow(/apply withInit after withImageConfig or withProcessArgs/)
  })
})

describe('withProcessArgs and withEnv take what JavaScript callers pass', () => {
  it('refuses args given as a string (it would run its first character), with the fix', () => {
    expect(() => withProcessArgs('sleep 30' as never)).toThrow(new InvalidArgumentError('args must be an array, e.g. [\'sleep\', \'30\']; got "sleep 30"'))
  })

  it('takes env as a map, merged like KEY=value entries', () => {
    const s = apply(withEnv(['PATH=/bin', 'A=0']), withEnv({ A: '1', B: '2' }))
    expect(s.process?.env).toEqual(['PATH=/bin', 'A=1', 'B=2'])
    expect(() => withEnv({ A: 1 } as never)).toThrow(InvalidArgumentError)
  })
})
