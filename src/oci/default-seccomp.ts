/**
 * The default seccomp profile, equal to containerd's `contrib/seccomp` DefaultProfile (which nerdctl
 * applies by default, and which follows Docker's profile).
 *
 * It is an allow list: syscalls not listed fail with EPERM (runc's errno for `SCMP_ACT_ERRNO` when the
 * profile names none). Some syscalls are allowed only when the process's bounding set holds the capability
 * that guards them, which is why the profile is computed from a spec and must be built after capabilities
 * are final. Names a given kernel or libseccomp does not know are skipped by runc, so the list may name
 * syscalls newer than the host.
 */

import { release } from 'node:os'
import type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall, Spec } from './runtime-spec.js'

// Allowed for every container, whatever its capabilities.
const ALWAYS_ALLOWED: readonly string[] = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'cachestat', 'capget', 'capset', 'chdir',
  'chmod', 'chown', 'chown32', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64',
  'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'close', 'close_range',
  'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3', 'epoll_create', 'epoll_create1', 'epoll_ctl',
  'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve',
  'execveat', 'exit', 'exit_group', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate',
  'fanotify_mark', 'fchdir', 'fchmod', 'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl',
  'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr', 'fstat',
  'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futex', 'futex_requeue',
  'futex_time64', 'futex_wait', 'futex_waitv', 'futex_wake', 'futimesat', 'getcpu', 'getcwd', 'getdents',
  'getdents64', 'getegid', 'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32',
  'getitimer', 'getpeername', 'getpgid', 'getpgrp', 'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid',
  'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'getsockname',
  'getsockopt', 'get_thread_area', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr', 'getxattrat',
  'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'ioctl', 'io_destroy',
  'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'ioprio_get', 'ioprio_set', 'io_setup', 'io_submit',
  'ipc', 'kill', 'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'lchown', 'lchown32',
  'lgetxattr', 'link', 'linkat', 'listen', 'listmount', 'listxattr', 'listxattrat', 'llistxattr', '_llseek',
  'lremovexattr', 'lseek', 'lsetxattr', 'lsm_get_self_attr', 'lsm_list_modules', 'lsm_set_self_attr', 'lstat',
  'lstat64', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir', 'mkdirat', 'mknod',
  'mknodat', 'mlock', 'mlock2', 'mlockall', 'map_shadow_stack', 'mmap', 'mmap2', 'mprotect', 'mq_getsetattr',
  'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64',
  'mq_unlink', 'mremap', 'mseal', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'msync', 'munlock', 'munlockall',
  'munmap', 'name_to_handle_at', 'nanosleep', 'newfstatat', '_newselect', 'open', 'openat', 'openat2', 'pause',
  'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'poll', 'ppoll',
  'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64', 'process_mrelease', 'pselect6',
  'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv',
  'recv', 'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'remap_file_pages', 'removexattr', 'removexattrat',
  'rename', 'renameat', 'renameat2', 'restart_syscall', 'rmdir', 'rseq', 'rt_sigaction', 'rt_sigpending',
  'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo', 'sched_getaffinity', 'sched_getattr', 'sched_getparam', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64',
  'sched_setaffinity', 'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'seccomp', 'select',
  'semctl', 'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'send', 'sendfile', 'sendfile64', 'sendmmsg',
  'sendmsg', 'sendto', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32', 'setgroups',
  'setgroups32', 'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid', 'setresgid32',
  'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list', 'setsid', 'setsockopt',
  'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'setxattr', 'setxattrat', 'shmat', 'shmctl', 'shmdt',
  'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4', 'sigprocmask', 'sigreturn', 'socketcall',
  'socketpair', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statmount', 'statx', 'symlink', 'symlinkat',
  'sync', 'sync_file_range', 'syncfs', 'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete',
  'timer_getoverrun', 'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
  'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill', 'truncate',
  'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'uretprobe', 'utime', 'utimensat',
  'utimensat_time64', 'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid', 'write', 'writev',
]

// Address families socket(2) may not create: AF_ALG (kernel crypto) and AF_VSOCK (host communication).
const AF_ALG = 38
const AF_VSOCK = 40

// personality(2) values a container may set: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and
// 0xffffffff, which only queries the current personality.
const PERSONALITY_VALUES: readonly number[] = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff]

// Allowed from Linux 4.8 on, where ptrace can no longer be used to bypass seccomp.
const KERNEL_4_8_ALLOWED: readonly string[] = ['process_vm_readv', 'process_vm_writev', 'ptrace']

// Per-architecture extras, keyed by Go architecture name (containerd switches on GOARCH).
const ARCH_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  ppc64le: ['sync_file_range2', 'swapcontext'],
  arm: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  arm64: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  amd64: ['arch_prctl', 'modify_ldt'],
  '386': ['modify_ldt'],
  s390: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'],
  s390x: ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr'],
  riscv64: ['riscv_flush_icache', 'riscv_hwprobe'],
}

// The seccomp architectures the filter covers, by Go architecture. Architectures missing here (386, arm,
// ppc64le, …) get an empty list, as in containerd: the filter then covers the native ABI only.
const ARCHITECTURES: Readonly<Record<string, readonly string[]>> = {
  amd64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64'],
  mips64: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32'],
  mips64n32: ['SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32'],
  mipsel64: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32'],
  mipsel64n32: ['SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32'],
  s390x: ['SCMP_ARCH_S390', 'SCMP_ARCH_S390X'],
  riscv64: ['SCMP_ARCH_RISCV64'],
  loong64: ['SCMP_ARCH_LOONGARCH64'],
}

// Syscalls unlocked by a capability in the bounding set, in the order containerd checks them.
const CAPABILITY_ALLOWED: Readonly<Record<string, readonly string[]>> = {
  CAP_DAC_READ_SEARCH: ['open_by_handle_at'],
  CAP_SYS_ADMIN: [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount',
    'mount_setattr', 'move_mount', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname',
    'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ],
  CAP_SYS_BOOT: ['reboot'],
  CAP_SYS_CHROOT: ['chroot'],
  CAP_SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  CAP_SYS_PACCT: ['acct'],
  CAP_SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  CAP_SYS_RAWIO: ['iopl', 'ioperm'],
  CAP_SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  CAP_SYS_TTY_CONFIG: ['vhangup'],
  CAP_SYS_NICE: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'],
  CAP_SYSLOG: ['syslog'],
  CAP_BPF: ['bpf'],
  CAP_PERFMON: ['perf_event_open'],
}

// CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP:
// without CAP_SYS_ADMIN, clone may not create namespaces.
const CLONE_NAMESPACE_FLAGS = 0x00020000 + 0x04000000 + 0x08000000 + 0x10000000 + 0x20000000 + 0x40000000 + 0x02000000

const ENOSYS = 38

/** Which host the profile is for; both default to the machine this code runs on. */
export interface DefaultSeccompOptions {
  /**
   * CPU architecture, as a Go name (`amd64`, `arm64`, …) or a Node `process.arch` name (`x64`, `ia32`, …).
   * Defaults to `process.arch`. It must be the daemon's host, which is normally this machine.
   */
  arch?: string
  /** Kernel release, e.g. `6.1.0-18-amd64`; defaults to `os.release()`. Only `major.minor` is read. */
  kernelVersion?: string
}

/** Converts a Node `process.arch` name to the Go name containerd uses; Go names pass through. */
export function goArch(arch: string): string {
  switch (arch) {
    case 'x64':
      return 'amd64'
    case 'ia32':
      return '386'
    // Node calls little-endian 64-bit POWER "ppc64"; Linux containers run on the little-endian one.
    case 'ppc64':
      return 'ppc64le'
    case 'mipsel':
      return 'mipsle'
    case 'mips64el':
      return 'mips64le'
    default:
      return arch
  }
}

/**
 * Builds containerd's default seccomp profile for a spec, reading the spec's bounding capabilities.
 *
 * Build it after every capability change (`withCapabilities`, `withPrivileged` drops seccomp entirely):
 * a capability added later would still be blocked by the profile.
 */
export function defaultSeccompProfile(spec: Spec, options: DefaultSeccompOptions = {}): LinuxSeccomp {
  const arch = goArch(options.arch ?? process.arch)
  const syscalls: LinuxSyscall[] = [allow(ALWAYS_ALLOWED)]

  // Three single-condition rules, not one rule with two "not equal" conditions: runc turns repeated
  // conditions on one argument into separate libseccomp rules that act as OR, which would let both through.
  syscalls.push(allow(['socket'], [{ index: 0, value: AF_ALG, op: 'SCMP_CMP_LT' }]))
  syscalls.push(allow(['socket'], [{ index: 0, value: AF_ALG + 1, op: 'SCMP_CMP_EQ' }]))
  syscalls.push(allow(['socket'], [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_GT' }]))
  for (const value of PERSONALITY_VALUES) {
    syscalls.push(allow(['personality'], [{ index: 0, value, op: 'SCMP_CMP_EQ' }]))
  }

  const kernel = parseKernelVersion(options.kernelVersion ?? release())
  // An unparsable version leaves these out, the safe side, as containerd does on a version error.
  if (kernel !== undefined && (kernel.major > 4 || (kernel.major === 4 && kernel.minor >= 8))) {
    syscalls.push(allow(KERNEL_4_8_ALLOWED))
  }

  const archAllowed = ARCH_ALLOWED[arch]
  if (archAllowed !== undefined) syscalls.push(allow(archAllowed))

  let admin = false
  for (const capability of spec.process?.capabilities?.bounding ?? []) {
    const names = CAPABILITY_ALLOWED[capability]
    if (names === undefined) continue
    if (capability === 'CAP_SYS_ADMIN') admin = true
    syscalls.push(allow(names))
  }

  if (!admin) {
    // clone's flags are the second argument on s390, the first elsewhere.
    const index = arch === 's390' || arch === 's390x' ? 1 : 0
    syscalls.push(allow(['clone'], [{ index, value: CLONE_NAMESPACE_FLAGS, op: 'SCMP_CMP_MASKED_EQ' }]))
    // clone3 passes its flags in a struct seccomp cannot inspect. ENOSYS (not EPERM) makes libc fall back
    // to clone, where the rule above applies.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS })
  }

  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: [...(ARCHITECTURES[arch] ?? [])],
    syscalls,
  }
}

function allow(names: readonly string[], args?: LinuxSeccompArg[]): LinuxSyscall {
  const rule: LinuxSyscall = { names: [...names], action: 'SCMP_ACT_ALLOW' }
  if (args !== undefined) rule.args = args
  return rule
}

function parseKernelVersion(text: string): { major: number; minor: number } | undefined {
  const match = /^(\d+)\.(\d+)/.exec(text.trim())
  if (match === null) return undefined
  return { major: Number(match[1]), minor: Number(match[2]) }
}
