"""Inside the sandbox, before the kernel: the run folder becomes a tmpfs with a disk budget.

This file runs as a script (``python -I -S -c <its text>``: isolated, so no module of the
submission's folder, its current directory, can shadow ``ctypes``) as the first command inside
``bwrap``, with ``CAP_SYS_ADMIN`` in the sandbox's namespaces, in the kernel
environment's interpreter (any Python 3.8+): the standard library only, and nothing of
the toolkit. It

1. enters a mount namespace of its own (so that it may mount even where bwrap put the
   sandbox in a nested user namespace, as it does for a non-root runner),
2. mounts a tmpfs over the run folder with ``size=`` and ``nr_inodes=``: the budget
   plus what the submission's own files take, so a submission always fits,
3. copies the submission from the folder it covered (read through a descriptor opened
   before the mount; links copied as links, never followed; special files skipped),
4. binds the declared inputs (read-only mounts bwrap placed in the covered folder) at
   the same places in the new one,
5. drops every capability (a non-root runner's sandbox; as root, ``setpriv`` comes next
   and does it) and executes the rest of its arguments.

Arguments: ``FOLDER BYTES FILES UID [INPUT...] -- COMMAND...`` (each ``INPUT`` a bind's place in
``FOLDER``, outer ones first); as root, what it copies is given
to ``UID``. On failure it prints one line starting with :data:`FAILURE` and exits 126.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from collections.abc import Iterator

FAILURE = "codeml-repro: the run folder's disk budget could not be set up"
PAGE = 4096
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC = 0x2, 0x4, 0x1000, 0x4000
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
CAPABILITY_V3 = 0x20080522
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW  # never through a link


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def drop_capabilities() -> None:
    """Leave no capability at all (bounding, ambient, inheritable, permitted, effective sets),
    so nothing executed from here on has one: a non-root runner's sandbox, where bwrap gave
    ``CAP_SYS_ADMIN`` and ``CAP_SETPCAP`` (for the bounding set) and no ``setpriv`` follows."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last capability
    _libc_call("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_V3, 0)
    _libc_call("capset", header, (ctypes.c_uint32 * 6)())


def _enc(path: str) -> bytes:
    return os.fsencode(path)


def survey(src: int, mounts: set[str]) -> tuple[int, int]:
    """Bytes and inodes the tree under descriptor ``src`` takes on a tmpfs (``mounts``: entries
    not descended into, the places of declared inputs)."""
    size, inodes = 0, 1
    for rel, info in _walk(src, mounts):
        inodes += 1
        if rel not in mounts and (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
            size += -(-max(info.st_size, 1) // PAGE) * PAGE
    return size, inodes


def _walk(src: int, mounts: set[str]) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry under descriptor ``src``, a folder before what it holds, never through a link
    and never into ``mounts`` (the places of declared inputs)."""
    pending = [""]
    while pending:
        folder = pending.pop()
        for name in _listdir(src, folder):
            rel = f"{folder}/{name}" if folder else name
            info = os.lstat(rel, dir_fd=src)
            yield rel, info  # the caller makes a folder before its entries are listed
            if stat.S_ISDIR(info.st_mode) and rel not in mounts:
                pending.append(rel)


def _listdir(src: int, folder: str) -> list[str]:
    if not folder:
        return os.listdir(src)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src)
    try:
        return os.listdir(fd)
    finally:
        os.close(fd)


def _copy_file(rel: str, mode: int, src: int, dst: int) -> None:
    fin = os.open(rel, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=src)
    try:
        fout = os.open(rel, NEW_FILE, mode, dir_fd=dst)
        try:
            while os.sendfile(fout, fin, None, 1 << 24) > 0:
                pass
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def copy_tree(src: int, dst: int, mounts: set[str], uid: int) -> None:
    """Copy the tree under ``src`` into ``dst`` (descriptors), with an empty placeholder for each of
    ``mounts``; ``uid`` >= 0 owns every copy (as root, for the kernel's uid)."""
    for rel, info in _walk(src, mounts):
        mode = stat.S_IMODE(info.st_mode) & 0o777
        if stat.S_ISDIR(info.st_mode):
            os.mkdir(rel, 0o700, dir_fd=dst)
        elif stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(rel, dir_fd=src), rel, dir_fd=dst)
        elif stat.S_ISREG(info.st_mode):
            if rel in mounts:
                os.close(os.open(rel, NEW_FILE, mode, dir_fd=dst))
            else:
                _copy_file(rel, mode, src, dst)
        else:
            continue  # a fifo, socket or device node: not a submission's file
        if not stat.S_ISLNK(info.st_mode):
            os.chmod(rel, mode | (0o700 if stat.S_ISDIR(info.st_mode) else 0), dir_fd=dst)
        if uid >= 0:  # last: root reads on through CAP_DAC_OVERRIDE, kept until setpriv
            os.chown(rel, uid, uid, dir_fd=dst, follow_symlinks=False)


def setup(folder: str, budget_bytes: int, budget_files: int, uid: int, mounts: list[str]) -> None:
    """Steps 1 to 4 of the module's docstring (``mounts``: where inputs are bound, relative to
    ``folder``, outer ones first); the current directory is the new folder after it."""
    _libc_call("unshare", CLONE_NEWNS)
    src = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)  # in the new namespace: its mounts are ours
    used_bytes, used_inodes = survey(src, set(mounts))
    owner = os.getuid() if uid < 0 else uid
    options = f"size={budget_bytes + used_bytes},nr_inodes={budget_files + used_inodes}"
    options += f",mode=0755,uid={owner},gid={owner}"
    _libc_call("mount", b"tmpfs", _enc(folder), b"tmpfs", MS_NOSUID | MS_NODEV, _enc(options))
    dst = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        copy_tree(src, dst, set(mounts), uid)
        for rel in [m for m in mounts if not any(m.startswith(f"{o}/") for o in mounts)]:
            source = f"/proc/self/fd/{src}/{rel}"
            _libc_call("mount", _enc(source), _enc(f"{folder}/{rel}"), None, MS_BIND | MS_REC, None)
    finally:
        os.close(dst)
        os.close(src)
    os.chdir(folder)


def main(argv: list[str]) -> None:
    end = argv.index("--")
    folder, budget_bytes, budget_files, uid = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    try:
        setup(folder, budget_bytes, budget_files, uid, argv[5:end])
        if os.geteuid() != 0:  # as root, setpriv does it (and needs CAP_SETUID for it)
            drop_capabilities()
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{FAILURE}: {exc}\n")
        sys.exit(126)
    os.execv(argv[end + 1], argv[end + 1 :])


if __name__ == "__main__":
    main(sys.argv)
