import { access, mkdir, mkdtemp, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, type CreateContainerOptions, type Image } from '../../src/index.js'
import { connectTestClient, ctr } from '../env/test-client.js'
import { runnableBusybox, uniqueId } from '../env/runnable-image.js'

// Docker `run` flags on createContainer, each observed from inside a running busybox container. Several flags
// share a container where that keeps the assertions readable, to keep the run short on three daemon lines.

const client = await connectTestClient('spec-options')
let image: Image
let dir: string

beforeAll(async () => {
  image = await runnableBusybox(client, 'docker.io/library/busybox:fixture')
  dir = await mkdtemp(join(tmpdir(), 'csdk-spec-options-'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))


interface Run {
  id: string
  exitCode: number
  /** stdout and stderr, as written. */
  output: string
  /** `key=value` lines of the output. */
  values: Map<string, string>
}

/** Creates a container running `sh -c script` (unless args say otherwise), runs it to the end, deletes it. */
async function run(label: string, options: Omit<CreateContainerOptions, 'image'>, script?: string, inspect?: (id: string) => Promise<void>): Promise<Run> {
  const id = uniqueId(label)
  const log = join(dir, `${id}.log`)
  const container = await client.containers.create(id, { image, ...(script !== undefined ? { args: ['sh', '-c', script] } : {}), ...options })
  try {
    await inspect?.(id)
    const task = await container.newTask({ stdio: { logFile: log } })
    const exited = task.wait()
    await task.start()
    const { exitCode } = await exited
    // The output file is complete once the task is deleted.
    await task.delete()
    const output = await readFile(log, 'utf8').catch(() => '')
    const values = new Map<string, string>()
    for (const line of output.split('\n')) {
      const eq = line.indexOf('=')
      if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1))
    }
    return { id, exitCode, output, values }
  } finally {
    await container.delete()
  }
}

// Prints `name=<first readable file's content>`: the cgroup v1 file, else its v2 counterpart (prefixed `v2:`).
const CGROUP_READER = 'r() { n=$1; shift; for f in "$@"; do if [ -r "$f" ]; then echo "$n=$(cat $f)"; return; fi; done; echo "$n=missing"; }'

function capabilityBits(hex: string | undefined): bigint {
  return BigInt(`0x${hex ?? '0'}`)
}
const CAP = { CHOWN: 0n, NET_ADMIN: 12n, NET_RAW: 13n, SYS_ADMIN: 21n, SYS_TIME: 25n, CHECKPOINT_RESTORE: 40n }
const has = (bits: bigint, cap: bigint): boolean => ((bits >> cap) & 1n) === 1n

describe('createContainer run flags, observed in the container', () => {
  it('limits memory, CPU, pids and rlimits, and sets the OOM score (cgroup v1 or v2)', async () => {
    const mib = 1024 * 1024
    const r = await run(
      'resources',
      { memory: '64m', memorySwap: '96m', memoryReservation: '32m', cpus: 0.5, cpuShares: 512, cpusetCpus: '0', cpusetMems: '0', pidsLimit: 42, ulimits: ['nofile=2048:4096', { name: 'nproc', soft: 500 }], oomScoreAdj: 500 },
      [
        CGROUP_READER,
        'r memory /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max',
        'r memsw /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/memory.swap.max',
        'r reservation /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/memory.low',
        'r quota /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max',
        'r period /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu.max',
        'r shares /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu.weight',
        'r cpuset /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset.cpus',
        'r mems /sys/fs/cgroup/cpuset/cpuset.mems /sys/fs/cgroup/cpuset.mems',
        'r pids /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max',
        'echo nofile=$(ulimit -Sn):$(ulimit -Hn)',
        'echo nproc=$(ulimit -Su):$(ulimit -Hu)',
        'echo oom=$(cat /proc/self/oom_score_adj)',
      ].join('\n'),
    )
    expect(r.exitCode, r.output).toBe(0)
    const v = r.values
    const v2 = v.get('memory') !== undefined && !/^\d+$/.test(v.get('quota') ?? '')
    expect(Number(v.get('memory'))).toBe(64 * mib)
    if (v2) {
      expect(Number(v.get('memsw'))).toBe(32 * mib) // swap alone on v2
      expect(v.get('quota')).toBe('50000 100000')
      expect(v.get('shares')).toBe('20') // runc's shares-to-weight conversion of 512
    } else {
      expect(Number(v.get('memsw'))).toBe(96 * mib)
      expect(v.get('quota')).toBe('50000')
      expect(v.get('period')).toBe('100000')
      expect(v.get('shares')).toBe('512')
    }
    expect(Number(v.get('reservation'))).toBe(32 * mib)
    expect(v.get('cpuset')).toBe('0')
    expect(v.get('mems')).toBe('0')
    expect(v.get('pids')).toBe('42')
    expect(v.get('nofile')).toBe('2048:4096')
    expect(v.get('nproc')).toBe('500:500')
    expect(v.get('oom')).toBe('500')
  })

  it('sets the block I/O weight, or says the kernel cannot', async () => {
    const files = ['/sys/fs/cgroup/blkio/blkio.bfq.weight', '/sys/fs/cgroup/blkio/blkio.weight']
    const v1 = await stat('/sys/fs/cgroup/blkio').then(() => true, () => false)
    const supported = !v1 || (await Promise.all(files.map((f) => access(f).then(() => true, () => false)))).some(Boolean)
    if (!supported) {
      // This kernel's disks use neither BFQ nor CFQ: runc would fail the start, so create refuses instead.
      const id = uniqueId('blkio')
      await expect(client.containers.create(id, { image, args: ['true'], blkioWeight: 300 })).rejects.toBeInstanceOf(FailedPreconditionError)
      await expect(client.containers.get(id)).rejects.toBeInstanceOf(NotFoundError)
      return
    }
    const r = await run('blkio', { blkioWeight: 300 }, `${CGROUP_READER}\nr weight /sys/fs/cgroup/blkio/blkio.bfq.weight /sys/fs/cgroup/blkio/blkio.weight /sys/fs/cgroup/io.bfq.weight /sys/fs/cgroup/io.weight`)
    expect(r.exitCode, r.output).toBe(0)
    expect(r.values.get('weight')).toMatch(/\b300\b/)
  })

  it('sets sysctls, hostname, domain name, env files and env, user, workdir, entrypoint and extra groups', async () => {
    const envFile = join(dir, 'app.env')
    await writeFile(envFile, '# settings\nFROM_FILE=file\nOVERRIDDEN=file\n')
    const r = await run('process', {
      user: 'app',
      groupAdd: ['daemon', 3000],
      workdir: '/home/app',
      entrypoint: ['/bin/sh', '-c'],
      args: ['echo user=$(id -u):$(id -G); echo cwd=$(pwd); echo file=$FROM_FILE; echo over=$OVERRIDDEN; echo host=$(hostname); echo domain=$(cat /proc/sys/kernel/domainname); echo msgmax=$(cat /proc/sys/kernel/msgmax)'],
      envFile,
      env: ['OVERRIDDEN=flag'],
      hostname: 'web',
      domainname: 'example.test',
      sysctls: { 'kernel.msgmax': '12345' },
    })
    expect(r.exitCode, r.output).toBe(0)
    // The kernel keeps supplementary groups sorted.
    expect(r.values.get('user')).toBe('1000:1000 1 2000 3000')
    expect(r.values.get('cwd')).toBe('/home/app')
    expect(r.values.get('file')).toBe('file')
    expect(r.values.get('over')).toBe('flag')
    expect(r.values.get('host')).toBe('web')
    expect(r.values.get('domain')).toBe('example.test')
    expect(r.values.get('msgmax')).toBe('12345')
  })

  it('adds and drops capabilities, keeps the default seccomp profile, and sets no-new-privileges', async () => {
    const script = [
      "busybox grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | busybox sed 's/:[[:space:]]*/=/'",
      // CLONE_NEWUSER needs no capability, so only the seccomp profile (which keeps unshare for CAP_SYS_ADMIN) stops it.
      'busybox unshare -U true 2>/dev/null && echo userns=allowed || echo userns=blocked',
    ].join('\n')
    const confined = await run('caps', { capAdd: ['NET_ADMIN'], capDrop: ['chown'], securityOpt: ['no-new-privileges'] }, script)
    expect(confined.exitCode, confined.output).toBe(0)
    const bits = capabilityBits(confined.values.get('CapEff'))
    expect(has(bits, CAP.NET_ADMIN)).toBe(true)
    expect(has(bits, CAP.CHOWN)).toBe(false)
    expect(has(bits, CAP.NET_RAW)).toBe(true)
    expect(has(bits, CAP.SYS_ADMIN)).toBe(false)
    expect(confined.values.get('NoNewPrivs')).toBe('1')
    expect(confined.values.get('Seccomp')).toBe('2')
    expect(confined.values.get('userns')).toBe('blocked')

    const unconfined = await run('unconfined', { securityOpt: ['seccomp=unconfined'] }, script)
    expect(unconfined.exitCode, unconfined.output).toBe(0)
    expect(unconfined.values.get('NoNewPrivs')).toBe('0') // Docker's default, unlike containerd's default spec
    expect(unconfined.values.get('Seccomp')).toBe('0')
    expect(unconfined.values.get('userns')).toBe('allowed')
  })

  it('loads a seccomp profile from a file', async () => {
    const profile = join(dir, 'no-mkdir.json')
    await writeFile(profile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }))
    const r = await run('seccomp-file', { securityOpt: [`seccomp=${profile}`] }, 'mkdir /tmp/x 2>/dev/null && echo mkdir=ok || echo mkdir=denied; echo hi > /tmp/y && echo write=ok')
    expect(r.values.get('mkdir'), r.output).toBe('denied')
    expect(r.values.get('write')).toBe('ok')
  })

  it('runs privileged: every capability, host devices, no seccomp, writable cgroupfs', async () => {
    // A host character device a default container does not get.
    const defaults = new Set(['null', 'zero', 'full', 'random', 'urandom', 'tty', 'console', 'ptmx'])
    const hostDevice = (await readdir('/dev', { withFileTypes: true })).find((e) => e.isCharacterDevice() && !defaults.has(e.name))?.name
    const script = [
      "busybox grep -E '^(CapEff|Seccomp):' /proc/self/status | busybox sed 's/:[[:space:]]*/=/'",
      `test -c /dev/${hostDevice ?? 'none'} && echo device=present || echo device=absent`,
      // The memory controller's mount on cgroup v1 (runc puts a rw tmpfs above them), the cgroup2 mount on v2.
      "echo cgroupfs=$(busybox awk '$2 == \"/sys/fs/cgroup/memory\" || ($2 == \"/sys/fs/cgroup\" && $3 == \"cgroup2\") { split($4, o, \",\"); print o[1]; exit }' /proc/mounts)",
    ].join('\n')
    const privileged = await run('privileged', { privileged: true, capDrop: ['SYS_TIME'] }, script)
    expect(privileged.exitCode, privileged.output).toBe(0)
    const bits = capabilityBits(privileged.values.get('CapEff'))
    expect(has(bits, CAP.SYS_ADMIN)).toBe(true)
    expect(has(bits, CAP.CHECKPOINT_RESTORE)).toBe(true)
    expect(has(bits, CAP.SYS_TIME)).toBe(false) // cap-drop applies after privileged
    expect(privileged.values.get('Seccomp')).toBe('0')
    if (hostDevice !== undefined) expect(privileged.values.get('device')).toBe('present')
    expect(privileged.values.get('cgroupfs')).toBe('rw')

    const plain = await run('unprivileged', {}, script)
    if (hostDevice !== undefined) expect(plain.values.get('device')).toBe('absent')
    expect(plain.values.get('cgroupfs')).toBe('ro')
  })

  it('mounts: read-only root, tmpfs with options, /dev/shm size, ro and rw binds, a device', async () => {
    const ro = join(dir, 'ro')
    const rw = join(dir, 'rw')
    await mkdir(ro)
    await mkdir(rw)
    await writeFile(join(ro, 'hello'), 'from host\n')
    const r = await run(
      'mounts',
      {
        readOnly: true,
        tmpfs: ['/scratch:size=1m,mode=1770'],
        shmSize: '32m',
        mounts: [`${ro}:/data:ro`, { type: 'bind', source: rw, target: '/out' }, { type: 'tmpfs', target: '/cache', size: '2m' }],
        devices: ['/dev/null:/dev/xnull'],
      },
      [
        'touch /rootfile 2>/dev/null && echo root=writable || echo root=readonly',
        "echo scratch=$(busybox awk '$2 == \"/scratch\" { print $3 \",\" $4 }' /proc/mounts)",
        "echo cache=$(busybox awk '$2 == \"/cache\" { print $4 }' /proc/mounts)",
        'echo scratchwrite=$(echo x > /scratch/f && echo ok)',
        "echo shm=$(busybox df -k /dev/shm | busybox awk 'NR == 2 { print $2 }')",
        'echo data=$(cat /data/hello)',
        'touch /data/new 2>/dev/null && echo datawrite=ok || echo datawrite=denied',
        'echo out > /out/written && echo outwrite=ok',
        "echo xnull=$(busybox stat -c '%F %t:%T' /dev/xnull)",
        'echo data > /dev/xnull && echo xnullwrite=ok',
      ].join('\n'),
    )
    expect(r.exitCode, r.output).toBe(0)
    const v = r.values
    expect(v.get('root')).toBe('readonly')
    const scratch = v.get('scratch') ?? ''
    expect(scratch).toMatch(/^tmpfs,/)
    expect(scratch.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev', 'noexec', 'size=1024k', 'mode=1770']))
    expect(v.get('cache')?.split(',')).toEqual(expect.arrayContaining(['size=2048k']))
    expect(v.get('scratchwrite')).toBe('ok')
    expect(v.get('shm')).toBe('32768')
    expect(v.get('data')).toBe('from host')
    expect(v.get('datawrite')).toBe('denied')
    expect(v.get('outwrite')).toBe('ok')
    expect(await readFile(join(rw, 'written'), 'utf8')).toBe('out\n')
    expect(v.get('xnull')).toBe('character special file 1:3')
    expect(v.get('xnullwrite')).toBe('ok')
  })

  it('records annotations, puts the cgroup under a parent, and runs under tini as PID 1', async () => {
    const parent = `/${client.namespace}-parent`
    let annotations = ''
    const r = await run(
      'misc',
      { annotations: { 'org.example.team': 'sdk' }, cgroupParent: parent, init: true },
      'echo pid1=$(cat /proc/1/cmdline | busybox tr "\\0" " "); echo self=$$; echo cgroup=$(busybox grep -E "(memory|^0::)" /proc/self/cgroup | busybox head -n 1 | busybox cut -d: -f3)',
      async (id) => {
        annotations = await ctr(client.namespace, 'containers', 'info', id)
      },
    )
    try {
      expect(r.exitCode, r.output).toBe(0)
      expect(annotations).toContain('"org.example.team": "sdk"')
      expect(r.values.get('pid1')).toMatch(/^\/sbin\/docker-init -- sh -c /)
      expect(r.values.get('self')).not.toBe('1')
      expect(r.values.get('cgroup')).toBe(`${parent}/${r.id}`)
    } finally {
      // runc removes the container's cgroup, not the parent it created on the way.
      for (const controller of await readdir('/sys/fs/cgroup').catch(() => [])) {
        await rmdir(join('/sys/fs/cgroup', controller, parent)).catch(() => undefined)
      }
      await rmdir(join('/sys/fs/cgroup', parent)).catch(() => undefined)
    }
  })

  it.each<[string, Omit<CreateContainerOptions, 'image'>]>([
    ['memory abc', { memory: 'abc' }],
    ['cpus -1', { cpus: -1 }],
    ['an unknown capability', { capAdd: ['NOT_A_CAP'] }],
    ['a bad ulimit', { ulimits: ['nofile=lots'] }],
    ['a bad mount string', { mounts: ['relative:/data'] }],
    ['a missing env file', { envFile: '/nonexistent/app.env' }],
    ['a missing device', { devices: ['/dev/nonexistent-device'] }],
    ['a missing init binary', { init: '/nonexistent/tini' }],
    ['an unknown security option', { securityOpt: ['label=disable'] }],
    ['a missing seccomp profile', { securityOpt: ['seccomp=/nonexistent/profile.json'] }],
    ['a group the image lacks', { groupAdd: ['wheel'] }],
  ])('refuses %s with InvalidArgumentError and leaves nothing behind', async (_name, options) => {
    const id = uniqueId('bad')
    await expect(client.containers.create(id, { image, args: ['true'], ...options })).rejects.toBeInstanceOf(InvalidArgumentError)
    expect((await client.containers.list()).map((c) => c.id)).not.toContain(id)
    await expect(client.snapshots().stat(id)).rejects.toBeInstanceOf(NotFoundError)
  })
})
