/**
 * One long-lived helper that takes flocks on this process's descriptors, so a locked store operation
 * costs a line on a pipe instead of a process start (a `flock -x 3` spawn is 3–5 ms on a quiet machine
 * and 30 ms and more on a loaded one, and a networked run takes four store locks).
 *
 * The helper is a small Perl program (`perl-base` is Essential on Debian; the json-file logger uses it
 * too). It duplicates the descriptor out of this process with `pidfd_getfd(2)` (Linux 5.6+), so the lock
 * lands on *our* open file description, exactly as with `flock -x 3` (src/nerdctl/flock.ts): it is ours
 * until we close the descriptor, or this process dies. An uncontended lock is taken at once
 * (`LOCK_NB`); a contended one by a forked child that waits, so one busy lock never holds up another.
 * When the helper cannot start or cannot duplicate descriptors (no Perl, an older kernel, no ptrace
 * right over this process), callers fall back to one `flock` process per lock.
 */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import type { Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import { debuglog } from 'node:util'

const debug = debuglog('containerd-sdk:flock')

// Line protocol, one line per message: `L <id> <fd>` lock, `C <id>` give up (kills a waiting child);
// replies `R` ready, `X <why>` unusable, `K <id>` locked, `E <id> <why>` failed.
// 434 and 438 are pidfd_open and pidfd_getfd in the syscall table every architecture shares since 5.x.
const HELPER_SCRIPT = String.raw`
use strict; use warnings; use Fcntl qw(:flock); use POSIX ();
$| = 1;
my $pidfd = syscall(434, getppid(), 0);
if ($pidfd < 0) { print "X pidfd_open: $!\n"; exit 0 }
print "R\n";
my %waiting;
while (defined(my $line = <STDIN>)) {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) { for my $k (keys %waiting) { delete $waiting{$k} if $waiting{$k} == $pid } }
  chomp $line;
  my ($op, $id, $fd) = split / /, $line;
  next unless defined $id;
  if ($op eq 'C') { my $pid = delete $waiting{$id}; kill('KILL', $pid) if defined $pid; next }
  next unless $op eq 'L' && defined $fd;
  my $dup = syscall(438, $pidfd, $fd + 0, 0);
  if ($dup < 0) { print "E $id pidfd_getfd: $!\n"; next }
  my $fh;
  if (!open($fh, '<&=', $dup)) { print "E $id fdopen: $!\n"; POSIX::close($dup); next }
  if (flock($fh, LOCK_EX | LOCK_NB)) { close($fh); print "K $id\n"; next }
  if (!$!{EWOULDBLOCK}) { my $e = "$!"; close($fh); print "E $id flock: $e\n"; next }
  my $pid = fork();
  if (!defined $pid) { my $e = "$!"; close($fh); print "E $id fork: $e\n"; next }
  if ($pid == 0) {
    my $msg = flock($fh, LOCK_EX) ? "K $id\n" : "E $id flock: $!\n";
    syswrite(STDOUT, $msg);
    POSIX::_exit(0);
  }
  close($fh);
  $waiting{$id} = $pid;
}
kill('KILL', values %waiting) if %waiting;
`

/** Why the helper could not take a lock: the caller takes it another way. */
export class FlockHelperUnavailable extends Error {}

interface Pending {
  resolve: () => void
  reject: (err: Error) => void
}

/** The helper process and the lock requests it has not answered yet. */
class FlockHelper {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private buffer = ''
  private closed = false

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  /** Starts the helper; undefined when it cannot run here. */
  static async start(): Promise<FlockHelper | undefined> {
    let child: ChildProcessWithoutNullStreams
    try {
      child = spawn('perl', ['-e', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] })
    } catch (err) {
      debug('cannot start the flock helper: %s', String(err))
      return undefined
    }
    const helper = new FlockHelper(child)
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5_000)
      child.once('error', (err) => {
        debug('flock helper: %s', err.message)
        clearTimeout(timer)
        resolve(false)
      })
      child.stdout.setEncoding('utf8')
      const onFirst = (chunk: string): void => {
        helper.buffer += chunk
        const newline = helper.buffer.indexOf('\n')
        if (newline < 0) return
        child.stdout.off('data', onFirst)
        const first = helper.buffer.slice(0, newline)
        helper.buffer = helper.buffer.slice(newline + 1)
        clearTimeout(timer)
        if (first !== 'R') debug('flock helper unusable: %s', first)
        resolve(first === 'R')
      }
      child.stdout.on('data', onFirst)
      child.once('close', () => {
        clearTimeout(timer)
        resolve(false)
      })
    })
    if (!ready) {
      child.kill('SIGKILL')
      return undefined
    }
    helper.listen()
    return helper
  }

  private listen(): void {
    const { child } = this
    child.stdout.on('data', (chunk: string) => {
      this.buffer += chunk
      for (let newline = this.buffer.indexOf('\n'); newline >= 0; newline = this.buffer.indexOf('\n')) {
        this.answer(this.buffer.slice(0, newline))
        this.buffer = this.buffer.slice(newline + 1)
      }
    })
    child.stderr.on('data', (chunk: Buffer) => debug('flock helper: %s', chunk.toString().trim()))
    // The pipes' errors end the helper like its exit does: every waiting call falls back.
    child.stdin.on('error', () => this.close())
    child.once('close', () => this.close())
    this.idle()
  }

  private answer(line: string): void {
    const [kind, idText, ...why] = line.split(' ')
    const pending = this.pending.get(Number(idText))
    if (pending === undefined) return
    this.pending.delete(Number(idText))
    if (kind === 'K') pending.resolve()
    else pending.reject(new FlockHelperUnavailable(why.join(' ') || line))
    this.idle()
  }

  /** Whether it can take requests. */
  get usable(): boolean {
    return !this.closed
  }

  /**
   * Locks descriptor `fd` of this process. Settles when locked; rejects with FlockHelperUnavailable when
   * the helper cannot (the caller takes the lock another way). `giveUp` ends the wait: the helper's
   * waiting child is killed (a lock it took meanwhile is on the caller's descriptor, which the caller
   * closes on failure).
   */
  lock(fd: number): { locked: Promise<void>; giveUp: () => void } {
    const id = this.nextId++
    const locked = new Promise<void>((resolve, reject) => {
      if (this.closed) {
        reject(new FlockHelperUnavailable('the helper exited'))
        return
      }
      this.pending.set(id, { resolve, reject })
      this.busy()
      this.child.stdin.write(`L ${id} ${fd}\n`)
    })
    const giveUp = (): void => {
      if (!this.pending.delete(id)) return
      if (!this.closed) this.child.stdin.write(`C ${id}\n`)
      this.idle()
    }
    return { locked, giveUp }
  }

  // The helper keeps the event loop alive only while a call waits on it: an idle one never holds up exit.
  // (A child's pipes are net.Sockets, which the stream types do not show.)
  private busy(): void {
    pipe(this.child.stdout).ref()
  }

  private idle(): void {
    if (this.pending.size === 0) {
      for (const stream of [this.child.stdout, this.child.stdin, this.child.stderr]) pipe(stream).unref()
      this.child.unref()
    }
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    const waiting = [...this.pending.values()]
    this.pending.clear()
    for (const p of waiting) p.reject(new FlockHelperUnavailable('the helper exited'))
    this.child.kill('SIGKILL')
  }
}

function pipe(stream: Readable | Writable): Socket {
  return stream as unknown as Socket
}

let started: Promise<FlockHelper | undefined> | undefined

/** This process's helper, started on first use; undefined when it cannot run here (then never retried). */
export async function flockHelper(): Promise<FlockHelper | undefined> {
  started ??= FlockHelper.start()
  const helper = await started
  if (helper !== undefined && !helper.usable) {
    // It exited (killed from outside): one new start.
    started = FlockHelper.start()
    return started
  }
  return helper
}
