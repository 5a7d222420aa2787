#!/usr/bin/python3
"""A table-driven POSIX file-system conformance suite in the spirit of pjdfstest (which no Debian package
ships): each case makes real system calls in a fresh directory under ROOT and compares the outcome with what
POSIX.1-2017 (and Linux, where POSIX leaves a choice) says. Run as root inside a mount made with
allow_other,default_permissions; the permission cases run in a forked child as USER.

Usage: posix-suite.py ROOT USER   → one JSON object per line: {"case": name, "pass": bool, "got": text}
"""
import errno
import json
import os
import pwd
import stat
import sys
import time

ROOT, USER = sys.argv[1], sys.argv[2]
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


class Mismatch(Exception):
    pass


def expect(condition, what):
    if not condition:
        raise Mismatch(what)


def fails_with(codes, fn, *args):
    """fn(*args) must fail with errno `codes` (one, or a tuple where POSIX allows either)."""
    allowed = codes if isinstance(codes, tuple) else (codes,)
    names = ' or '.join(errno.errorcode[c] for c in allowed)
    try:
        fn(*args)
    except OSError as e:
        expect(e.errno in allowed, f'{errno.errorcode.get(e.errno, e.errno)} instead of {names}')
        return
    raise Mismatch(f'succeeded, expected {names}')


def write(path, data=b'x', mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 20)
    finally:
        os.close(fd)


def as_user(fn):
    """Runs fn() in a child process with USER's uid/gid; returns its errno (0 = success)."""
    pw = pwd.getpwnam(USER)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            fn()
            os._exit(0)
        except OSError as e:
            os._exit(e.errno if 0 < e.errno < 256 else 255)
        except BaseException:
            os._exit(254)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def user_errno(code, fn):
    got = as_user(fn)
    expect(got == code, f'as {USER}: {errno.errorcode.get(got, got) if got else "success"} instead of {errno.errorcode.get(code, "success") if code else "success"}')


# ---- open / create ------------------------------------------------------------------------------------

@case
def open_creat_excl_existing_eexist(d):
    write(f'{d}/f')
    fails_with(errno.EEXIST, os.open, f'{d}/f', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)


@case
def open_missing_enoent(d):
    fails_with(errno.ENOENT, os.open, f'{d}/missing', os.O_RDONLY)


@case
def open_through_file_enotdir(d):
    write(f'{d}/f')
    fails_with(errno.ENOTDIR, os.open, f'{d}/f/x', os.O_RDONLY)


@case
def open_directory_flag_on_file_enotdir(d):
    write(f'{d}/f')
    fails_with(errno.ENOTDIR, os.open, f'{d}/f', os.O_RDONLY | os.O_DIRECTORY)


@case
def open_dir_for_write_eisdir(d):
    os.mkdir(f'{d}/sub')
    fails_with(errno.EISDIR, os.open, f'{d}/sub', os.O_WRONLY)


@case
def create_mode_honours_umask(d):
    old = os.umask(0o022)
    try:
        fd = os.open(f'{d}/f', os.O_CREAT | os.O_WRONLY, 0o666)
        os.close(fd)
    finally:
        os.umask(old)
    expect(stat.S_IMODE(os.stat(f'{d}/f').st_mode) == 0o644, oct(os.stat(f'{d}/f').st_mode))


@case
def name_too_long_enametoolong(d):
    fails_with(errno.ENAMETOOLONG, os.open, f'{d}/{"n" * 256}', os.O_CREAT | os.O_WRONLY, 0o644)


@case
def creat_excl_on_symlink_eexist(d):
    os.symlink('nowhere', f'{d}/l')
    fails_with(errno.EEXIST, os.open, f'{d}/l', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)


@case
def o_trunc_truncates(d):
    write(f'{d}/f', b'hello')
    os.close(os.open(f'{d}/f', os.O_WRONLY | os.O_TRUNC))
    expect(os.stat(f'{d}/f').st_size == 0, str(os.stat(f'{d}/f').st_size))


@case
def o_append_appends(d):
    write(f'{d}/f', b'ab')
    fd = os.open(f'{d}/f', os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'cd')
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b'ef')
    os.close(fd)
    expect(read(f'{d}/f') == b'abcdef', repr(read(f'{d}/f')))


# ---- read / write / truncate -----------------------------------------------------------------------

@case
def write_past_eof_leaves_zeros(d):
    fd = os.open(f'{d}/f', os.O_CREAT | os.O_RDWR, 0o644)
    os.pwrite(fd, b'z', 4096)
    os.close(fd)
    data = read(f'{d}/f')
    expect(len(data) == 4097 and data[:4096] == bytes(4096), f'{len(data)} bytes')


@case
def truncate_grows_with_zeros(d):
    write(f'{d}/f', b'abc')
    os.truncate(f'{d}/f', 10)
    expect(read(f'{d}/f') == b'abc' + bytes(7), repr(read(f'{d}/f')))


@case
def truncate_shrinks(d):
    write(f'{d}/f', b'abcdef')
    os.truncate(f'{d}/f', 2)
    expect(read(f'{d}/f') == b'ab', repr(read(f'{d}/f')))


@case
def ftruncate_readonly_fd_fails(d):
    write(f'{d}/f', b'abc')
    fd = os.open(f'{d}/f', os.O_RDONLY)
    try:
        fails_with((errno.EINVAL, errno.EBADF), os.ftruncate, fd, 0)
    finally:
        os.close(fd)


@case
def truncate_directory_eisdir(d):
    os.mkdir(f'{d}/sub')
    fails_with(errno.EISDIR, os.truncate, f'{d}/sub', 0)


@case
def unlinked_open_file_stays_readable(d):
    write(f'{d}/f', b'still here')
    fd = os.open(f'{d}/f', os.O_RDONLY)
    os.unlink(f'{d}/f')
    data = os.read(fd, 100)
    os.close(fd)
    expect(data == b'still here', repr(data))
    expect(not os.path.lexists(f'{d}/f'), 'name still there')


@case
def write_visible_through_other_fd(d):
    write(f'{d}/f', b'')
    a = os.open(f'{d}/f', os.O_WRONLY)
    b = os.open(f'{d}/f', os.O_RDONLY)
    os.write(a, b'shared')
    data = os.read(b, 100)
    os.close(a)
    os.close(b)
    expect(data == b'shared', repr(data))


# ---- directories ---------------------------------------------------------------------------------------

@case
def mkdir_existing_eexist(d):
    os.mkdir(f'{d}/sub')
    fails_with(errno.EEXIST, os.mkdir, f'{d}/sub')


@case
def mkdir_mode(d):
    old = os.umask(0)
    try:
        os.mkdir(f'{d}/sub', 0o751)
    finally:
        os.umask(old)
    expect(stat.S_IMODE(os.stat(f'{d}/sub').st_mode) == 0o751, oct(os.stat(f'{d}/sub').st_mode))


@case
def rmdir_nonempty_enotempty(d):
    os.mkdir(f'{d}/sub')
    write(f'{d}/sub/f')
    fails_with((errno.ENOTEMPTY, errno.EEXIST), os.rmdir, f'{d}/sub')


@case
def rmdir_file_enotdir(d):
    write(f'{d}/f')
    fails_with(errno.ENOTDIR, os.rmdir, f'{d}/f')


@case
def unlink_directory_eisdir(d):
    os.mkdir(f'{d}/sub')
    fails_with(errno.EISDIR, os.unlink, f'{d}/sub')


@case
def readdir_lists_entries(d):
    for name in ('a', 'b c', 'ü'):
        write(f'{d}/{name}')
    os.mkdir(f'{d}/dir')
    expect(sorted(os.listdir(d)) == sorted(['a', 'b c', 'ü', 'dir']), repr(os.listdir(d)))


@case
def create_updates_parent_mtime(d):
    os.mkdir(f'{d}/sub')
    os.utime(f'{d}/sub', (1_000_000, 1_000_000))
    write(f'{d}/sub/f')
    expect(os.stat(f'{d}/sub').st_mtime > 1_000_000, str(os.stat(f'{d}/sub').st_mtime))


@case
def directory_nlink_counts_subdirs(d):
    os.mkdir(f'{d}/sub')
    os.mkdir(f'{d}/sub/a')
    os.mkdir(f'{d}/sub/b')
    expect(os.stat(f'{d}/sub').st_nlink == 4, str(os.stat(f'{d}/sub').st_nlink))


# ---- rename --------------------------------------------------------------------------------------------

@case
def rename_replaces_file(d):
    write(f'{d}/a', b'new')
    write(f'{d}/b', b'old')
    os.rename(f'{d}/a', f'{d}/b')
    expect(read(f'{d}/b') == b'new' and not os.path.lexists(f'{d}/a'), 'not replaced')


@case
def rename_file_over_dir_eisdir(d):
    write(f'{d}/f')
    os.mkdir(f'{d}/sub')
    fails_with(errno.EISDIR, os.rename, f'{d}/f', f'{d}/sub')


@case
def rename_dir_over_file_enotdir(d):
    write(f'{d}/f')
    os.mkdir(f'{d}/sub')
    fails_with(errno.ENOTDIR, os.rename, f'{d}/sub', f'{d}/f')


@case
def rename_dir_over_nonempty_dir(d):
    os.mkdir(f'{d}/a')
    os.mkdir(f'{d}/b')
    write(f'{d}/b/f')
    fails_with((errno.ENOTEMPTY, errno.EEXIST), os.rename, f'{d}/a', f'{d}/b')


@case
def rename_dir_over_empty_dir(d):
    os.mkdir(f'{d}/a')
    write(f'{d}/a/f')
    os.mkdir(f'{d}/b')
    os.rename(f'{d}/a', f'{d}/b')
    expect(os.path.exists(f'{d}/b/f') and not os.path.lexists(f'{d}/a'), 'not moved')


@case
def rename_missing_enoent(d):
    fails_with(errno.ENOENT, os.rename, f'{d}/missing', f'{d}/x')


@case
def rename_onto_itself_is_noop(d):
    write(f'{d}/f', b'same')
    os.rename(f'{d}/f', f'{d}/f')
    expect(read(f'{d}/f') == b'same', 'changed')


@case
def rename_dir_into_own_subdir_einval(d):
    os.mkdir(f'{d}/a')
    os.mkdir(f'{d}/a/b')
    fails_with(errno.EINVAL, os.rename, f'{d}/a', f'{d}/a/b/c')


@case
def rename_across_directories(d):
    os.mkdir(f'{d}/x')
    os.mkdir(f'{d}/y')
    write(f'{d}/x/f', b'moved')
    os.rename(f'{d}/x/f', f'{d}/y/g')
    expect(read(f'{d}/y/g') == b'moved', 'not moved')


# ---- links ---------------------------------------------------------------------------------------------

@case
def link_increments_nlink(d):
    write(f'{d}/f')
    os.link(f'{d}/f', f'{d}/g')
    expect(os.stat(f'{d}/f').st_nlink == 2 and os.stat(f'{d}/g').st_nlink == 2, str(os.stat(f'{d}/f').st_nlink))


@case
def link_existing_target_eexist(d):
    write(f'{d}/f')
    write(f'{d}/g')
    fails_with(errno.EEXIST, os.link, f'{d}/f', f'{d}/g')


@case
def link_directory_eperm(d):
    os.mkdir(f'{d}/sub')
    fails_with(errno.EPERM, os.link, f'{d}/sub', f'{d}/sub2')


@case
def symlink_readlink_roundtrip(d):
    os.symlink('some/where', f'{d}/l')
    expect(os.readlink(f'{d}/l') == 'some/where', os.readlink(f'{d}/l'))
    expect(stat.S_ISLNK(os.lstat(f'{d}/l').st_mode), 'not a link')


@case
def symlink_followed_by_open(d):
    write(f'{d}/f', b'target')
    os.symlink('f', f'{d}/l')
    expect(read(f'{d}/l') == b'target', 'not followed')


@case
def symlink_existing_eexist(d):
    write(f'{d}/f')
    fails_with(errno.EEXIST, os.symlink, 'x', f'{d}/f')


@case
def symlink_loop_eloop(d):
    os.symlink('b', f'{d}/a')
    os.symlink('a', f'{d}/b')
    fails_with(errno.ELOOP, os.open, f'{d}/a', os.O_RDONLY)


@case
def readlink_on_file_einval(d):
    write(f'{d}/f')
    fails_with(errno.EINVAL, os.readlink, f'{d}/f')


# ---- attributes ----------------------------------------------------------------------------------------

@case
def chmod_sets_mode(d):
    write(f'{d}/f')
    os.chmod(f'{d}/f', 0o640)
    expect(stat.S_IMODE(os.stat(f'{d}/f').st_mode) == 0o640, oct(os.stat(f'{d}/f').st_mode))


@case
def chmod_sets_setgid_and_sticky_on_dir(d):
    os.mkdir(f'{d}/sub')
    os.chmod(f'{d}/sub', 0o3775)
    expect(stat.S_IMODE(os.stat(f'{d}/sub').st_mode) == 0o3775, oct(os.stat(f'{d}/sub').st_mode))


@case
def chown_by_root(d):
    write(f'{d}/f')
    os.chown(f'{d}/f', 1234, 5678)
    st = os.stat(f'{d}/f')
    expect((st.st_uid, st.st_gid) == (1234, 5678), f'{st.st_uid}:{st.st_gid}')


@case
def utime_sets_times(d):
    write(f'{d}/f')
    os.utime(f'{d}/f', (1_500_000_000, 1_600_000_000))
    st = os.stat(f'{d}/f')
    expect(int(st.st_mtime) == 1_600_000_000 and int(st.st_atime) == 1_500_000_000, f'{st.st_atime} {st.st_mtime}')


@case
def write_updates_mtime(d):
    write(f'{d}/f')
    os.utime(f'{d}/f', (1_000_000, 1_000_000))
    fd = os.open(f'{d}/f', os.O_WRONLY)
    os.write(fd, b'y')
    os.close(fd)
    expect(os.stat(f'{d}/f').st_mtime > time.time() - 600, str(os.stat(f'{d}/f').st_mtime))


@case
def size_after_write(d):
    write(f'{d}/f', b'12345')
    expect(os.stat(f'{d}/f').st_size == 5, str(os.stat(f'{d}/f').st_size))


@case
def statvfs_answers(d):
    st = os.statvfs(d)
    expect(st.f_bsize > 0 and st.f_namemax >= 255, f'{st.f_bsize} {st.f_namemax}')


@case
def mkfifo_creates_fifo(d):
    os.mkfifo(f'{d}/p')
    expect(stat.S_ISFIFO(os.lstat(f'{d}/p').st_mode), oct(os.lstat(f'{d}/p').st_mode))


# ---- permissions (as USER; the kernel checks them with default_permissions) ----------------------------

@case
def user_reads_world_readable(d):
    write(f'{d}/f', b'open', 0o644)
    os.chmod(f'{d}/f', 0o644)
    user_errno(0, lambda: read(f'{d}/f'))


@case
def user_cannot_read_0600(d):
    write(f'{d}/f', b'secret', 0o600)
    os.chmod(f'{d}/f', 0o600)
    user_errno(errno.EACCES, lambda: read(f'{d}/f'))


@case
def user_cannot_write_0644(d):
    write(f'{d}/f', b'ro', 0o644)
    os.chmod(f'{d}/f', 0o644)
    user_errno(errno.EACCES, lambda: os.close(os.open(f'{d}/f', os.O_WRONLY)))


@case
def user_cannot_create_in_0755_dir(d):
    os.mkdir(f'{d}/sub', 0o755)
    os.chmod(f'{d}/sub', 0o755)
    user_errno(errno.EACCES, lambda: write(f'{d}/sub/new'))


@case
def user_cannot_search_0700_dir(d):
    os.mkdir(f'{d}/sub')
    write(f'{d}/sub/f', b'x', 0o644)
    os.chmod(f'{d}/sub/f', 0o644)
    os.chmod(f'{d}/sub', 0o700)
    user_errno(errno.EACCES, lambda: os.stat(f'{d}/sub/f'))


@case
def user_cannot_chmod_others_file(d):
    write(f'{d}/f', b'x', 0o644)
    user_errno(errno.EPERM, lambda: os.chmod(f'{d}/f', 0o777))


@case
def user_cannot_chown(d):
    write(f'{d}/f', b'x', 0o666)
    os.chmod(f'{d}/f', 0o666)
    user_errno(errno.EPERM, lambda: os.chown(f'{d}/f', pwd.getpwnam(USER).pw_uid, -1))


@case
def user_cannot_unlink_in_sticky_dir(d):
    os.mkdir(f'{d}/tmp')
    os.chmod(f'{d}/tmp', 0o1777)
    write(f'{d}/tmp/roots', b'x', 0o666)
    user_errno(errno.EPERM, lambda: os.unlink(f'{d}/tmp/roots'))


@case
def user_can_create_in_0777_dir(d):
    os.mkdir(f'{d}/pub')
    os.chmod(f'{d}/pub', 0o777)
    user_errno(0, lambda: write(f'{d}/pub/mine'))


@case
def user_cannot_utime_others_file_to_past(d):
    write(f'{d}/f', b'x', 0o666)
    os.chmod(f'{d}/f', 0o666)
    user_errno(errno.EPERM, lambda: os.utime(f'{d}/f', (1, 1)))


def main():
    os.mkdir(ROOT)
    os.chmod(ROOT, 0o755)
    for fn in CASES:
        d = os.path.join(ROOT, fn.__name__)
        os.mkdir(d)
        os.chmod(d, 0o755)
        try:
            fn(d)
            result = {'case': fn.__name__, 'pass': True, 'got': ''}
        except Mismatch as e:
            result = {'case': fn.__name__, 'pass': False, 'got': str(e)}
        except OSError as e:
            result = {'case': fn.__name__, 'pass': False, 'got': f'{errno.errorcode.get(e.errno, e.errno)}: {e.strerror}'}
        print(json.dumps(result), flush=True)


main()
