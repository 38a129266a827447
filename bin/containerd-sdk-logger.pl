#!/usr/bin/perl
# containerd-sdk's json-file logging driver: a program containerd's shim runs for a `binary://` log URI.
#
# The shim starts it as `/usr/bin/perl <this file> <data store>` (the URI is
# `binary:///usr/bin/perl?<this file>=<data store>`; `<this file> data-store <data store>` works too) with
# CONTAINER_ID and CONTAINER_NAMESPACE in its environment, the container's stdout on fd 3, its stderr on fd 4,
# and a readiness pipe on fd 5. It appends one Docker/nerdctl json-file record per line,
# `{"log":"...\n","stream":"stdout","time":"<RFC3339Nano>"}`, to `<store>/containers/<ns>/<id>/<id>-json.log`
# (or the `log-path` option), rotating by the `max-size`/`max-file` options of `log-config.json` beside it
# (Docker's naming: `.1` is the newest rotated file). Strings are encoded like Go's encoding/json: `<`, `>`,
# `&`, U+2028 and U+2029 escaped, control characters escaped, each byte of invalid UTF-8 as `\ufffd`.
#
# Drain protocol (readers use it to know every byte the container wrote is in the file; see
# src/logs/logger-drain.ts): while running, the logger keeps `csdk-logger-<pid>.json` in the state dir. On
# SIGUSR2 it reads both pipes until they are empty, writes out partial lines, and records in that file
# `drainedFrom`: the CLOCK_MONOTONIC time (ns) at which that drain began. The file is removed when the logger
# exits (both pipes at EOF, or SIGTERM from the shim).
#
# Perl on purpose: Debian's perl-base is Essential (always installed), and a perl process is ~6 MiB RSS where
# a Node one is ~42 MiB; one of these runs per container. Only perl-base modules are used (no JSON::PP, no
# Time::HiRes): the JSON and the clock are done here.
#
# Run with `--selftest-encode <stream> <time>`: encodes stdin's bytes as one record on stdout (tests use it).
use strict;

my $MAX_RECORD_BYTES = 16 * 1024;    # Docker cuts longer lines into records without a trailing newline
my $READ_BYTES       = 64 * 1024;
my $IDLE_WAKE_S      = 0.5;          # bounds how late a SIGUSR2 that lands just before select() is seen

# ---- clock: clock_gettime(2) by syscall number (Time::HiRes is not in perl-base) ----

# By the ELF machine of this perl (read from /proc/self/exe: cheaper than loading Config), 64-bit only.
my %CLOCK_GETTIME = (62 => 228, 183 => 113, 243 => 113, 258 => 113, 21 => 246, 22 => 260);    # x86_64 aarch64 riscv loongarch ppc64 s390x
my $clock_nr;
{
    my ($exe, $elf);
    if (open($exe, '<:raw', '/proc/self/exe') && (sysread($exe, $elf, 20) // 0) == 20) {
        my ($class, $data) = unpack('x4 C C', $elf);
        $clock_nr = $CLOCK_GETTIME{ unpack($data == 2 ? 'n' : 'v', substr($elf, 18, 2)) } if $class == 2;
    }
}
# open(2) flags and errno values: the asm-generic ones on the architectures above. Fcntl and Errno (0.5 MiB
# RSS each) are loaded only on another architecture.
my ($O_WRONLY, $O_CREAT, $O_TRUNC, $O_APPEND, $ENOENT, $EINTR, $EAGAIN) = (01, 0100, 01000, 02000, 2, 4, 11);
if (!defined $clock_nr) {
    require Fcntl;
    require Errno;
    ($O_WRONLY, $O_CREAT, $O_TRUNC, $O_APPEND) = (Fcntl::O_WRONLY(), Fcntl::O_CREAT(), Fcntl::O_TRUNC(), Fcntl::O_APPEND());
    ($ENOENT, $EINTR, $EAGAIN) = (Errno::ENOENT(), Errno::EINTR(), Errno::EAGAIN());
}
my $hires;

# Nanoseconds of a clock (0 realtime, 1 monotonic) as an integer.
sub clock_ns {
    my ($id) = @_;
    if (defined $clock_nr) {
        my $ts = "\0" x 16;
        return do { my ($s, $ns) = unpack('q q', $ts); $s * 1_000_000_000 + $ns } if syscall($clock_nr, $id, $ts) == 0;
    }
    # Another architecture: Time::HiRes when the full perl is installed, else whole seconds.
    $hires //= eval { require Time::HiRes; 1 } ? 1 : 0;
    return int(Time::HiRes::clock_gettime($id) * 1e9) if $hires;
    return $id == 0 ? time() * 1_000_000_000 : 0;
}

# Wall-clock ns from the monotonic clock anchored to the wall clock: never decreasing, and following
# wall-clock adjustments (NTP) beyond a few milliseconds (the same rule as the former Node logger).
my ($clock_base, $clock_last) = (0, 0);
sub clock_rebase { $clock_base = clock_ns(0) - clock_ns(1) }
sub now_ns {
    my $wall = clock_ns(0);
    my $t    = $clock_base + clock_ns(1);
    if ($t < $wall - 2_000_000 || $t > $wall + 3_000_000) {
        clock_rebase();
        $t = $clock_base + clock_ns(1);
    }
    $t = $clock_last if $t < $clock_last;
    return $clock_last = $t;
}

# Go's time.RFC3339Nano for a UTC time in ns since the epoch (trailing zeros of the fraction trimmed).
sub rfc3339nano {
    my ($ns) = @_;
    my $sec = int($ns / 1_000_000_000);
    my $frac = sprintf('%09d', $ns - $sec * 1_000_000_000);
    $frac =~ s/0+$//;
    my @t = gmtime($sec);
    return sprintf('%04d-%02d-%02dT%02d:%02d:%02d%sZ', $t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1], $t[0], $frac eq '' ? '' : ".$frac");
}

# ---- JSON ----

my %ESC = map { (chr($_) => sprintf('\\u%04x', $_)) } (0 .. 0x1f, ord('<'), ord('>'), ord('&'));
@ESC{ "\b", "\t", "\n", "\f", "\r", '"', '\\' } = ('\\b', '\\t', '\\n', '\\f', '\\r', '\\"', '\\\\');

# A JSON string from bytes, like Go's encoding/json: valid UTF-8 kept, each invalid byte `\ufffd`.
sub json_string {
    my ($s) = @_;
    $s =~ s/([\x00-\x1f"\\<>&])/$ESC{$1}/g;
    if ($s =~ /[\x80-\xff]/) {
        $s =~ s/(\xe2\x80[\xa8\xa9])|((?:[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})+)|[\x80-\xff]/
            defined $1 ? ($1 eq "\xe2\x80\xa8" ? '\\u2028' : '\\u2029') : defined $2 ? $2 : '\\ufffd'/ge;
    }
    return qq("$s");
}

sub encode_record {
    my ($log, $stream, $time) = @_;
    return '{"log":' . json_string($log) . qq(,"stream":"$stream","time":"$time"}\n);
}

# A small JSON parser for log-config.json: objects, arrays, strings (as UTF-8 bytes), numbers, literals.
sub json_parse {
    my ($text) = @_;
    my $v = json_value(\$text);
    $text =~ /\G\s+/gc;
    (pos($text) // 0) == length($text) or die "trailing data\n";
    return $v;
}
sub json_value {
    my ($r) = @_;
    $$r =~ /\G\s+/gc;
    if ($$r =~ /\G\{/gc) {
        my %h;
        $$r =~ /\G\s+/gc;
        return \%h if $$r =~ /\G\}/gc;
        while (1) {
            $$r =~ /\G\s+/gc;
            substr($$r, pos($$r) // 0, 1) eq '"' or die "object key expected\n";
            my $k = json_value($r);
            $$r =~ /\G\s*:/gc or die "colon expected\n";
            $h{$k} = json_value($r);
            $$r =~ /\G\s+/gc;
            next if $$r =~ /\G,/gc;
            return \%h if $$r =~ /\G\}/gc;
            die "bad object\n";
        }
    }
    if ($$r =~ /\G\[/gc) {
        my @a;
        $$r =~ /\G\s+/gc;
        return \@a if $$r =~ /\G\]/gc;
        while (1) {
            push @a, json_value($r);
            $$r =~ /\G\s+/gc;
            next if $$r =~ /\G,/gc;
            return \@a if $$r =~ /\G\]/gc;
            die "bad array\n";
        }
    }
    if ($$r =~ /\G"((?:[^"\\]|\\.)*)"/gcs) {
        my $s = $1;
        $s =~ s{\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|(.))}{
            defined $1 ? utf8_bytes(0x10000 + ((hex($1) - 0xd800) << 10) + (hex($2) - 0xdc00))
            : defined $3 ? utf8_bytes(hex($3))
            : ({ b => "\b", f => "\f", n => "\n", r => "\r", t => "\t" }->{$4} // $4)}gse;
        return $s;
    }
    return $1 + 0 if $$r =~ /\G(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/gc;
    return 1 if $$r =~ /\Gtrue/gc;
    return 0 if $$r =~ /\Gfalse/gc;
    return undef if $$r =~ /\Gnull/gc;
    die "bad JSON value\n";
}
sub utf8_bytes { my $c = chr($_[0]); utf8::encode($c); return $c }

# ---- configuration ----

# nerdctl's max-size parser (go-units FromHumanSize): decimal multiples, `10m` = 10,000,000 bytes.
sub parse_human_size {
    my ($v) = @_;
    $v =~ s/^\s+|\s+$//g;
    my ($n, $u) = $v =~ /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/ or return undef;
    my %unit = (k => 1e3, m => 1e6, g => 1e9, t => 1e12, p => 1e15);
    return int($n * (defined $u ? $unit{ lc $u } : 1));
}

# log-config.json's rotation and path; a missing or bad file or value means the default (never lose output).
sub read_log_config {
    my ($state_dir, $default_path) = @_;
    my $opts = {};
    if (open(my $fh, '<:raw', "$state_dir/log-config.json")) {
        local $/;
        my $parsed = eval { json_parse(scalar <$fh>) };
        $opts = $parsed->{opts} if ref $parsed eq 'HASH' && ref $parsed->{opts} eq 'HASH';
    }
    my $str  = sub { my $v = $opts->{ $_[0] }; defined $v && !ref $v ? $v : undef };
    my $size = defined $str->('max-size') ? parse_human_size($str->('max-size')) : undef;
    my $file = $str->('max-file');
    my $files = defined $file && $file =~ /^\d+$/ ? $file + 0 : 1;
    my $path = $str->('log-path');
    return ((defined $path && $path =~ m{^/}) ? $path : $default_path, $size // -1, $files < 1 ? 1 : $files);
}

# ---- the log file ----

my ($log_path, $max_size, $max_files, $log_fh, $log_size);

sub open_log {
    my ($flags) = @_;
    sysopen($log_fh, $log_path, $flags, 0600) or die "cannot open $log_path: $!\n";
    $log_size = -s $log_fh;
}

sub append_data {
    my ($data) = @_;
    my ($off, $len) = (0, length $data);
    # Bounded: each round writes at least one byte or dies.
    while ($off < $len) {
        my $n = syswrite($log_fh, $data, $len - $off, $off);
        die "cannot write $log_path: $!\n" unless defined $n && $n > 0;
        $off += $n;
    }
    $log_size += $len;
}

sub rotate {
    close($log_fh);
    if ($max_files < 2) {
        open_log($O_WRONLY | $O_CREAT | $O_TRUNC);
        return;
    }
    for (my $i = $max_files - 1; $i > 1; $i--) { rename_quiet("$log_path." . ($i - 1), "$log_path.$i") }
    rename_quiet($log_path, "$log_path.1");
    open_log($O_WRONLY | $O_APPEND | $O_CREAT);
}

sub rename_quiet { rename($_[0], $_[1]) or $! == $ENOENT or die "cannot rename $_[0]: $!\n" }

# Appends records; like Docker, rotates before a write once the file has reached the limit.
sub write_records {
    my $batch = '';
    for my $rec (@_) {
        if ($max_size > 0 && $log_size + length($batch) >= $max_size) {
            append_data($batch) if $batch ne '';
            $batch = '';
            rotate();
        }
        $batch .= $rec;
    }
    append_data($batch) if $batch ne '';
}

# ---- lines ----

# Splits a source's bytes into lines, holding back an unfinished one; lines over $MAX_RECORD_BYTES are
# cut at a UTF-8 character boundary (backing off over at most 3 continuation bytes).
sub push_lines {
    my ($src, $chunk) = @_;
    $src->{pending} .= $chunk;
    my $buf = \$src->{pending};
    my ($off, $len, @out) = (0, length $$buf);
    while (1) {
        my $nl = index($$buf, "\n", $off);
        if ($nl != -1 && $nl - $off < $MAX_RECORD_BYTES) {
            push @out, substr($$buf, $off, $nl + 1 - $off);
            $off = $nl + 1;
        } elsif ($len - $off >= $MAX_RECORD_BYTES) {
            my $cut = $MAX_RECORD_BYTES;
            $cut-- while $cut > $MAX_RECORD_BYTES - 4 && (ord(substr($$buf, $off + $cut, 1)) & 0xc0) == 0x80;
            push @out, substr($$buf, $off, $cut);
            $off += $cut;
        } else {
            last;
        }
    }
    substr($$buf, 0, $off, '') if $off > 0;
    return @out;
}

sub flush_lines {
    my ($src) = @_;
    my $rest = $src->{pending};
    $src->{pending} = '';
    return $rest eq '' ? () : ($rest);
}

# ---- main ----

sub warn_line { print STDERR "containerd-sdk-logger: $_[0]" . ($_[0] =~ /\n\z/ ? '' : "\n") }

sub selftest_encode {
    my ($stream, $time) = @_;
    binmode STDIN;
    binmode STDOUT;
    local $/;
    my $in = <STDIN> // '';
    print encode_record($in, $stream, $time);
    exit 0;
}

sub env_name {
    my ($name) = @_;
    my $v = $ENV{$name} // '';
    die "$name is missing or not a plain name\n" if $v eq '' || $v eq '.' || $v eq '..' || $v =~ m{/};
    return $v;
}

sub mkdir_p {
    my ($dir) = @_;
    my $path = '';
    for my $part (grep { $_ ne '' } split m{/}, $dir) {
        $path .= "/$part";
        next if -d $path;
        mkdir($path, 0700) or -d $path or die "cannot create $path: $!\n";
    }
}

sub main {
    selftest_encode(@ARGV[1, 2]) if @ARGV == 3 && $ARGV[0] eq '--selftest-encode';
    my $store = @ARGV == 2 && $ARGV[0] eq 'data-store' ? $ARGV[1] : @ARGV == 1 ? $ARGV[0] : undef;
    die 'usage: containerd-sdk-logger [data-store] <absolute data store path> (got ' . join(' ', @ARGV) . ")\n"
        unless defined $store && $store =~ m{^/};
    my $ns        = env_name('CONTAINER_NAMESPACE');
    my $id        = env_name('CONTAINER_ID');
    my $state_dir = "$store/containers/$ns/$id";
    mkdir_p($state_dir);
    ($log_path, $max_size, $max_files) = read_log_config($state_dir, "$state_dir/$id-json.log");
    open_log($O_WRONLY | $O_APPEND | $O_CREAT);
    clock_rebase();

    my $marker = "$state_dir/csdk-logger-$$.json";
    my $write_marker = sub {
        my ($drained_from) = @_;
        my $tmp = "$state_dir/.csdk-logger-$$.json.tmp";
        sysopen(my $fh, $tmp, $O_WRONLY | $O_CREAT | $O_TRUNC, 0600) or die "cannot write $tmp: $!\n";
        print $fh qq({"pid":$$,"log":) . json_string($log_path) . ',"drainedFrom":' . (defined $drained_from ? qq("$drained_from") : 'null') . '}';
        close($fh) or die "cannot write $tmp: $!\n";
        rename($tmp, $marker) or die "cannot rename $tmp: $!\n";
    };

    my @sources = map { { fd => $_->[0], stream => $_->[1], pending => '', done => 0 } } ([3, 'stdout'], [4, 'stderr']);
    for my $s (@sources) {
        # No such fd (run by hand): nothing to read on this stream.
        if (open(my $fh, '<&=', $s->{fd})) { $s->{fh} = $fh } else { $s->{done} = 1 }
    }
    my $record = sub {
        my ($stream, @lines) = @_;
        return unless @lines;
        my $time = rfc3339nano(now_ns());
        # Keep reading whatever happens to the file (disk full...): a logger that stops reading blocks the container.
        eval { write_records(map { encode_record($_, $stream, $time) } @lines); 1 } or warn_line($@);
    };
    # One read from a source select() found readable: never blocks.
    my $read_one = sub {
        my ($s) = @_;
        my $n = sysread($s->{fh}, my $buf, $READ_BYTES);
        if (!defined $n) {
            $s->{done} = 1 unless $! == $EINTR || $! == $EAGAIN;
        } elsif ($n == 0) {
            $s->{done} = 1;
        } else {
            $record->($s->{stream}, push_lines($s, $buf));
        }
    };
    # Reads what the pipes hold right now, without waiting.
    my $drain = sub {
        for my $s (@sources) {
            # Bounded: a writer faster than this loop still cannot keep it going past 16 MiB.
            for (my $i = 0; $i < 256 && !$s->{done}; $i++) {
                my $rin = '';
                vec($rin, $s->{fd}, 1) = 1;
                last unless select($rin, undef, undef, 0) > 0;
                $read_one->($s);
            }
            $record->($s->{stream}, flush_lines($s));
        }
    };
    my $finish = sub {
        $record->($_->{stream}, flush_lines($_)) for @sources;
        close($log_fh);
        unlink($marker);
        exit 0;
    };

    my ($term, $usr2) = (0, 0);
    $SIG{TERM} = sub { $term = 1 };
    $SIG{USR2} = sub { $usr2 = 1 };
    $SIG{PIPE} = 'IGNORE';
    $write_marker->(undef);

    # Ready only now that the file is open: the shim starts the container once it reads this byte.
    if (open(my $ready, '>&=', 5)) {
        syswrite($ready, "\x01");
        close($ready);
    }

    while (1) {
        if ($term) {
            $drain->();
            $finish->();
        }
        if ($usr2) {
            $usr2 = 0;
            my $from = clock_ns(1);
            $drain->();
            eval { $write_marker->($from); 1 } or warn_line($@);
        }
        my @open = grep { !$_->{done} } @sources;
        $finish->() unless @open;
        my $rin = '';
        vec($rin, $_->{fd}, 1) = 1 for @open;
        # A signal interrupts select (EINTR): the loop then sees its flag.
        my $n = select(my $rout = $rin, undef, undef, $IDLE_WAKE_S);
        next if $n == 0 || ($n < 0 && $! == $EINTR);
        if ($n < 0) {
            # Not a signal (a pipe gone bad): stop reading rather than spin.
            warn_line("select: $!");
            $_->{done} = 1 for @open;
            next;
        }
        for my $s (@open) { $read_one->($s) if vec($rout, $s->{fd}, 1) }
    }
}

eval { main(); 1 } or do {
    warn_line($@);
    exit 1;
};
