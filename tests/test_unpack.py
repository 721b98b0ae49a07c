"""Unpacking untrusted archives on the host: nothing lands outside its folder, budgets hold, once."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from codeml_repro.run.inputs.unpack import UnpackError, is_intact, unpack


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info in members:
            body = (data or {}).get(info.name)
            tf.addfile(info, io.BytesIO(body) if body is not None else None)
    return path


def _file(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def test_zip_unpacked_once_and_checked(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "a.zip", {"w/x.txt": b"1", "y.txt": b"22"})
    target = unpack(archive, "zip", tmp_path / "out", 1000)
    assert (target / "w" / "x.txt").read_bytes() == b"1" and is_intact(target)
    (target / "y.txt").write_bytes(b"changed!")
    assert not is_intact(target)
    unpack(archive, "zip", target, 1000)  # a changed folder is unpacked again
    assert (target / "y.txt").read_bytes() == b"22"


def test_zip_slip_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "evil.zip", {"../../escaped.txt": b"x"})
    with pytest.raises(UnpackError, match="outside"):
        unpack(archive, "zip", tmp_path / "deep" / "out", 1000)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "out").exists()


def test_over_budget_refused_before_writing(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "big.zip", {"zeros": b"\0" * 5000})
    with pytest.raises(UnpackError, match="budget"):
        unpack(archive, "zip", tmp_path / "out", 1000)
    assert not (tmp_path / "out").exists()


def test_tar_link_out_of_the_folder_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = _tar(tmp_path / "evil.tar.gz", [link])
    with pytest.raises(UnpackError, match="unsafe"):
        unpack(archive, "tar", tmp_path / "out", 1000)
    assert not (tmp_path / "out").exists()


def test_tar_unpacked(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "ok.tar.gz", [_file("d/a.txt", 3)], {"d/a.txt": b"abc"})
    target = unpack(archive, "tar", tmp_path / "out", 1000)
    assert (target / "d" / "a.txt").read_bytes() == b"abc"


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "x.zip"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(UnpackError, match="not a readable zip"):
        unpack(bogus, "zip", tmp_path / "out", 1000)


def test_a_bomb_stops_at_the_ratio_cap_before_the_budget(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * 4 * 1024**2)  # about 4 kB packed: 1000 to 1
    with pytest.raises(UnpackError, match="200 times its size"):
        unpack(archive, "zip", tmp_path / "out", 10**9)
    assert not (tmp_path / "out").exists()


def test_too_many_members_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("codeml_repro.run.inputs.unpack.MAX_MEMBERS", 3)
    archive = _zip(tmp_path / "many.zip", {f"f{i}": b"x" for i in range(5)})
    with pytest.raises(UnpackError, match="more than 3 members"):
        unpack(archive, "zip", tmp_path / "out", 1000)
    bodies = {f"f{i}": b"x" for i in range(5)}
    tar = _tar(tmp_path / "many.tar.gz", [_file(name, 1) for name in bodies], bodies)
    with pytest.raises(UnpackError, match="more than 3 members"):
        unpack(tar, "tar", tmp_path / "out", 1000)


def test_a_lying_size_is_caught_as_bytes_are_written(tmp_path: Path) -> None:
    """The budget is charged block by block as written, whatever the archive declares."""
    archive = _zip(tmp_path / "a.zip", {"big": b"y" * 300_000})
    charged: list[int] = []

    class Over(Exception):
        pass

    def charge(count: int) -> None:
        if sum(charged) + count > 100_000:
            raise Over
        charged.append(count)

    with pytest.raises(Over):
        unpack(archive, "zip", tmp_path / "out", charge)
    assert sum(charged) <= 100_000 and not (tmp_path / "out").exists()
