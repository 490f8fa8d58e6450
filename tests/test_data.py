"""Fashion-MNIST sources (cache, Debian package, download), validation and the fast path."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from tbviz import data, paths

DEBIAN = data.DEBIAN_DIR


@pytest.fixture(scope="module")
def real_raw(tmp_path_factory) -> Path:
    """The four real idx files, decompressed once from the project's data sources."""
    found = data.ensure()
    return found.raw


@pytest.fixture
def debian_copy(tmp_path, real_raw) -> Path:
    """A stand-in for /usr/share/datasets/fashion-mnist: the real files, gzipped."""
    folder = tmp_path / "debian"
    folder.mkdir()
    for name in data.all_files():
        with (real_raw / name).open("rb") as src, gzip.open(folder / f"{name}.gz", "wb", 1) as dst:
            shutil.copyfileobj(src, dst)
    return folder


def test_debian_then_cache(tmp_path, debian_copy):
    root = tmp_path / "cache"
    first = data.ensure(root, download=False, debian_dir=debian_copy)
    assert first.source == "debian"
    assert sorted(p.name for p in first.raw.iterdir()) == sorted(data.all_files())
    again = data.ensure(root, download=False, debian_dir=tmp_path / "nowhere")
    assert again.source == "cache"


def test_real_debian_package_loads_offline(tmp_path):
    if not DEBIAN.is_dir():
        pytest.fail("Debian's dataset-fashion-mnist is not installed: apt-get install it")
    found = data.ensure(tmp_path, download=False)
    assert found.source == "debian"
    images, labels = data.tensors(train=True, root=tmp_path)
    test_images, test_labels = data.tensors(train=False, root=tmp_path)
    assert images.shape == (60_000, 1, 28, 28) and test_images.shape == (10_000, 1, 28, 28)
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert torch.equal(labels.bincount(), torch.full((10,), 6000))
    assert torch.equal(test_labels.bincount(), torch.full((10,), 1000))
    assert images.min() == -1 and images.max() == 1


def test_no_source_names_both_ways(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.ensure(tmp_path, download=False, debian_dir=tmp_path / "missing")
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=True" in message
    assert not any(data.raw_dir(tmp_path).glob("*"))


def test_download_goes_through_a_temporary_name(tmp_path, real_raw, monkeypatch):
    """The torchvision download lands in a temporary folder and is checked before caching."""
    import torchvision.datasets

    calls = []

    class FakeDownload:  # writes the real files where torchvision would
        def __init__(self, root, train, download):
            calls.append((Path(root), train, download))
            raw = data.raw_dir(root)
            raw.mkdir(parents=True, exist_ok=True)
            for name in data.all_files():
                shutil.copy(real_raw / name, raw / name)

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeDownload)
    found = data.ensure(tmp_path / "cache", download=True, debian_dir=tmp_path / "none")
    assert found.source == "download"
    assert all(download for _, _, download in calls)
    assert all(root != found.root for root, _, _ in calls)  # never downloaded in place
    for name in data.all_files():
        data.check_idx(found.raw / name)
    assert not list(found.root.glob(".download-*")), "temporary download folder left behind"


def test_partial_download_is_never_cached(tmp_path, real_raw, monkeypatch):
    import torchvision.datasets

    class BrokenDownload:
        def __init__(self, root, train, download):
            raw = data.raw_dir(root)
            raw.mkdir(parents=True, exist_ok=True)
            blob = (real_raw / "train-images-idx3-ubyte").read_bytes()
            (raw / "train-images-idx3-ubyte").write_bytes(blob[: len(blob) // 3])
            raise ConnectionError("connection reset by peer")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", BrokenDownload)
    root = tmp_path / "cache"
    with pytest.raises(data.DataError, match="download failed: connection reset"):
        data.ensure(root, download=True, debian_dir=tmp_path / "none")
    assert not list(data.raw_dir(root).glob("*ubyte")), "a partial file became a cached file"


def test_truncated_download_file_is_rejected(tmp_path, real_raw, monkeypatch):
    import torchvision.datasets

    class TruncatingDownload:  # "succeeds" but hands over a short file
        def __init__(self, root, train, download):
            raw = data.raw_dir(root)
            raw.mkdir(parents=True, exist_ok=True)
            for name in data.all_files():
                blob = (real_raw / name).read_bytes()
                (raw / name).write_bytes(blob[:-100] if "images" in name else blob)

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", TruncatingDownload)
    root = tmp_path / "cache"
    with pytest.raises(data.DataError, match="truncated"):
        data.ensure(root, download=True, debian_dir=tmp_path / "none")
    assert not (data.raw_dir(root) / "train-images-idx3-ubyte").exists()
    assert not list(data.raw_dir(root).glob("*.part"))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda b: b[:-784], "truncated"),
        (lambda b: b"\x00\x00\x08\x01" + b[4:], "magic number 2049, expected 2051"),
        (lambda b: b[:4] + (59_999).to_bytes(4, "big") + b[8:], "59999 samples"),
        (lambda b: b[:10], "bytes"),
    ],
    ids=["truncated", "wrong-magic", "wrong-count", "header-only"],
)
def test_damaged_cache_file_says_what_to_delete(tmp_path, real_raw, damage, expected):
    raw = data.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    for name in data.all_files():
        shutil.copy(real_raw / name, raw / name)
    bad = raw / "train-images-idx3-ubyte"
    bad.write_bytes(damage(bad.read_bytes()))
    with pytest.raises(data.DataError) as err:
        data.ensure(tmp_path, download=False, debian_dir=tmp_path / "none")
    assert expected in str(err.value)
    assert f"rm {bad}" in str(err.value)


def test_data_root_order(tmp_path, monkeypatch):
    monkeypatch.setenv("TBVIZ_DATA", str(tmp_path / "mine"))
    assert paths.data_root() == (tmp_path / "mine").resolve()
    monkeypatch.delenv("TBVIZ_DATA")
    assert paths.data_root() == paths.repo_root() / "data"
    monkeypatch.setattr(paths, "repo_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.data_root() == tmp_path / "xdg" / "tbviz"


def test_torchvision_datasets_and_make_grid():
    """The torch + torchvision pair works: a dataset, a transform and make_grid."""
    import torchvision
    from torchvision.utils import make_grid

    train, test = data.datasets()
    assert isinstance(train, torchvision.datasets.FashionMNIST)
    assert (len(train), len(test)) == (60_000, 10_000)
    image, label = train[0]
    assert image.shape == (1, 28, 28) and label == 9  # the first training image is an ankle boot
    fast_images, fast_labels = data.tensors(train=True)
    assert torch.allclose(image, fast_images[0]) and fast_labels[0] == label
    grid = make_grid(torch.stack([train[i][0] for i in range(8)]), nrow=4, padding=2)
    assert grid.shape == (3, 2 * 28 + 3 * 2, 4 * 28 + 5 * 2)
    assert data.CLASSES[label] == "Ankle boot" and len(data.CLASSES) == 10


def test_batches_cover_every_sample_once():
    images = torch.arange(10).float().reshape(10, 1, 1, 1)
    labels = torch.arange(10)
    seen = torch.cat([y for _, y in data.batches(images, labels, 3, generator=torch.Generator())])
    assert sorted(seen.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="differ in length"):
        next(data.batches(images, labels[:5], 3))


KILLED_MID_COPY = """
import os, shutil, sys
from tbviz import data

def dying_copy(src, dst, length=0):  # the process dies after writing part of a file
    dst.write(src.read(100_000))
    dst.flush()
    os._exit(3)

shutil.copyfileobj = dying_copy
data.ensure(sys.argv[1], download=False, debian_dir=sys.argv[2])
"""


@pytest.mark.slow
def test_a_copy_killed_midway_never_leaves_a_cached_file(tmp_path, debian_copy):
    import subprocess
    import sys

    root = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_MID_COPY, str(root), str(debian_copy)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3, proc.stderr
    assert not [p.name for p in data.raw_dir(root).glob("*ubyte")], "a partial file was cached"
    found = data.ensure(root, download=False, debian_dir=debian_copy)  # the next run recovers
    assert found.source == "debian"
    for name in data.all_files():
        data.check_idx(found.raw / name)
