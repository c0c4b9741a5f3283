"""Hostile treebank input is refused before the work, with a short message, and nothing is written."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from sentiment_core import settings
from sentiment_core.data.ptb import excerpt, parse_tree
from sentiment_core.data.treebank import (TreebankFormatError, install_treebank_folder, install_treebank_zip,
                                          scan_tree_file)

SPLITS = ("train.txt", "dev.txt", "test.txt")


def zip_of(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def good_members(tiny_sst_dir: Path) -> dict[str, bytes]:
    return {f"trees/{name}": (tiny_sst_dir / name).read_bytes() for name in SPLITS}


def refused(tmp_path: Path, data: bytes, match: str) -> str:
    """Install `data` as a zip; assert it is refused with `match` and that nothing was written."""
    archive = tmp_path / "upload.zip"
    archive.write_bytes(data)
    target = tmp_path / "data" / "sst"
    with pytest.raises(TreebankFormatError, match=match) as err:
        install_treebank_zip(archive, target, display_name="upload.zip")
    assert not target.exists() and list((tmp_path / "data").iterdir()) == []
    message = str(err.value)
    assert len(message) < 300 and str(tmp_path) not in message  # short, and no server path
    return message


def test_the_synthetic_zip_installs(tmp_path, tiny_sst_dir):
    archive = tmp_path / "in.zip"
    archive.write_bytes(zip_of(good_members(tiny_sst_dir)))
    target = install_treebank_zip(archive, tmp_path / "sst")
    assert (target / "dev.txt").read_bytes() == (tiny_sst_dir / "dev.txt").read_bytes()


def test_a_member_that_inflates_past_the_cap_is_refused_while_streaming(tmp_path, tiny_sst_dir):
    members = good_members(tiny_sst_dir)
    members["trees/train.txt"] = b"\0" * (settings.MAX_ZIP_MEMBER_BYTES + 1)
    data = zip_of(members)
    assert len(data) < 100_000  # a small upload that would inflate to many megabytes
    refused(tmp_path, data, "inflates past")


def test_a_header_that_lies_about_the_size_does_not_help(tmp_path, tiny_sst_dir):
    members = good_members(tiny_sst_dir)
    members["trees/train.txt"] = b"\0" * (settings.MAX_ZIP_MEMBER_BYTES + 1)
    data = bytearray(zip_of(members))
    # Rewrite the uncompressed size that both headers of train.txt declare to 100 bytes.
    true_size = (settings.MAX_ZIP_MEMBER_BYTES + 1).to_bytes(4, "little")
    assert data.count(true_size) == 2
    data = bytes(data).replace(true_size, (100).to_bytes(4, "little"))
    refused(tmp_path, data, "inflates past|not a valid zip")


def test_too_many_members_are_refused(tmp_path, tiny_sst_dir):
    members = good_members(tiny_sst_dir)
    members.update({f"junk/{i}.txt": b"x" for i in range(settings.MAX_ZIP_MEMBERS)})
    refused(tmp_path, zip_of(members), "holds .* files")


def test_a_corrupt_deflate_stream_is_one_clear_message(tmp_path, tiny_sst_dir):
    data = bytearray(zip_of(good_members(tiny_sst_dir)))
    start = data.index(b"trees/train.txt") + len("trees/train.txt")  # the local header ends here
    for i in range(start + 20, start + 60):
        data[i] ^= 0x5A  # garble the compressed bytes, keep the headers
    refused(tmp_path, bytes(data), "not a valid zip file, or a damaged one")


def test_a_huge_split_file_is_refused_before_it_is_read(tmp_path, tiny_sst_dir):
    folder = tmp_path / "copy"
    folder.mkdir()
    for name in SPLITS:
        (folder / name).write_bytes((tiny_sst_dir / name).read_bytes())
    with open(folder / "train.txt", "wb") as big:  # sparse: a large file that costs no disk
        big.truncate(settings.MAX_TREEBANK_FILE_BYTES + 1)
    with pytest.raises(TreebankFormatError, match="more than a treebank split's limit"):
        install_treebank_folder(folder, tmp_path / "sst")
    assert not (tmp_path / "sst").exists()


def test_a_huge_line_is_refused_before_parsing_and_not_repeated(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("(2 " + "x" * (settings.MAX_TREE_LINE_CHARS + 5) + ")\n", encoding="utf-8")
    with pytest.raises(TreebankFormatError, match="more than the limit") as err:
        scan_tree_file(path)
    assert len(str(err.value)) < 300


def test_parse_errors_quote_a_short_excerpt():
    with pytest.raises(TreebankFormatError) as err:
        parse_tree("(2 (2 a) " + "w" * 5000 + ")")
    assert len(str(err.value)) < 200 and "5,000 characters" in str(err.value)
    assert excerpt("short") == "'short'"
