"""Fashion-MNIST for the course (lesson 00): found offline when possible, checked, and served
either as torchvision datasets or as in-memory tensors (the fast path used for training).

Sources, in order:

1. the cache: ``<data_root>/FashionMNIST/raw/`` (see :func:`tbviz.paths.data_root`);
2. Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist/*.gz``),
   decompressed into the cache;
3. a torchvision download into a temporary directory, moved into the cache once checked.

Every file is checked (idx magic number, shape, size) before it is used or cached; a file is
only ever written under a temporary name and renamed when complete, so an interrupted copy or
download never becomes a cached "good" file.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tbviz import paths

CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")

IMAGE_MAGIC = 2051  # idx3: unsigned bytes, 3 dimensions
LABEL_MAGIC = 2049  # idx1: unsigned bytes, 1 dimension
SIZE = 28

# split -> (images file, labels file, number of samples)
FILES: dict[str, tuple[str, str, int]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}

# The tutorial's Normalize((0.5,), (0.5,)): pixels in [0, 1] become [-1, 1].
MEAN, STD = 0.5, 0.5

HOW_TO_GET = (
    "Get Fashion-MNIST one of two ways:\n"
    "  * offline (Debian/Ubuntu): sudo apt-get install dataset-fashion-mnist\n"
    "  * online: call tbviz.data.ensure(download=True) with internet access "
    "(torchvision downloads it)\n"
    "or point TBVIZ_DATA at a directory that holds FashionMNIST/raw/ with the four idx files."
)


class DataError(RuntimeError):
    """Fashion-MNIST is missing or damaged; the message says what to do."""


@dataclass(frozen=True)
class Found:
    """Where the data is (``root`` for torchvision) and which source filled it."""

    root: Path
    source: str  # "cache", "debian" or "download"

    @property
    def raw(self) -> Path:
        return raw_dir(self.root)


def raw_dir(root: Path | str | None = None) -> Path:
    """``<root>/FashionMNIST/raw``: where torchvision looks for the uncompressed idx files."""
    return Path(root if root is not None else paths.data_root()) / "FashionMNIST" / "raw"


def _expected(name: str) -> tuple[int, int]:
    """(magic number, sample count) that the idx file ``name`` must have."""
    for images, labels, count in FILES.values():
        if name == images:
            return IMAGE_MAGIC, count
        if name == labels:
            return LABEL_MAGIC, count
    raise ValueError(f"unknown Fashion-MNIST file name {name!r}; expected one of {all_files()}")


def all_files() -> list[str]:
    return [name for images, labels, _ in FILES.values() for name in (images, labels)]


def check_idx(path: Path | str, name: str | None = None) -> None:
    """Raise :class:`DataError` unless ``path`` is a complete Fashion-MNIST idx file.

    ``name`` is the canonical file name (defaults to the file's own name); it decides the
    expected magic number and sample count.
    """
    path = Path(path)
    name = name or path.name
    magic, count = _expected(name)
    rows = SIZE * SIZE if magic == IMAGE_MAGIC else 1
    header = 16 if magic == IMAGE_MAGIC else 8
    want_size = header + count * rows
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(header)
    problems = []
    if len(head) < header:
        problems.append(f"only {size} bytes, shorter than the idx header")
    else:
        got_magic = int.from_bytes(head[0:4], "big")
        got_count = int.from_bytes(head[4:8], "big")
        if got_magic != magic:
            problems.append(f"magic number {got_magic}, expected {magic}")
        if got_count != count:
            problems.append(f"{got_count} samples in the header, expected {count}")
        if magic == IMAGE_MAGIC and head[8:16] != SIZE.to_bytes(4, "big") * 2:
            problems.append(f"image size is not {SIZE}x{SIZE}")
        if size != want_size:
            problems.append(f"{size} bytes, expected {want_size} (truncated or padded)")
    if problems:
        raise DataError(
            f"{path} is not a valid Fashion-MNIST file: {'; '.join(problems)}.\n"
            f"Delete it (rm {path}) and run again: tbviz.data.ensure() fetches a fresh copy."
        )


def _atomic_write(target: Path, fill) -> None:
    """Write ``target`` through ``fill(file)`` under a temporary name, check it, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp_path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
        check_idx(tmp_path, target.name)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _cache_is_complete(raw: Path) -> bool:
    """True when all four files are present and valid; DataError when one present is damaged."""
    present = [name for name in all_files() if (raw / name).exists()]
    for name in present:
        check_idx(raw / name)
    return len(present) == len(all_files())


def _from_debian(raw: Path, debian_dir: Path) -> bool:
    sources = {name: debian_dir / f"{name}.gz" for name in all_files()}
    if not all(src.is_file() for src in sources.values()):
        return False
    for name, src in sources.items():
        if (raw / name).exists():
            continue
        with gzip.open(src, "rb") as gz:
            _atomic_write(raw / name, lambda out, gz=gz: shutil.copyfileobj(gz, out, 1 << 20))
    return True


def _from_download(raw: Path) -> None:
    from torchvision.datasets import FashionMNIST

    with tempfile.TemporaryDirectory(dir=raw.parent.parent, prefix=".download-") as tmp:
        FashionMNIST(tmp, train=True, download=True)
        FashionMNIST(tmp, train=False, download=True)
        got = raw_dir(tmp)
        for name in all_files():
            if not (raw / name).exists():
                with (got / name).open("rb") as src:
                    _atomic_write(raw / name, lambda out, src=src: shutil.copyfileobj(src, out))


def ensure(
    root: Path | str | None = None,
    *,
    download: bool = True,
    debian_dir: Path | str = DEBIAN_DIR,
) -> Found:
    """Make sure the four Fashion-MNIST idx files are in the cache and valid; say where from.

    Raises :class:`DataError` with instructions when a cached file is damaged or no source has
    the data.
    """
    root = Path(root) if root is not None else paths.data_root()
    raw = raw_dir(root)
    if _cache_is_complete(raw):
        return Found(root, "cache")
    if _from_debian(raw, Path(debian_dir)):
        return Found(root, "debian")
    if download:
        raw.mkdir(parents=True, exist_ok=True)
        try:
            _from_download(raw)
        except Exception as err:  # network errors come in many types; re-raise with advice
            raise DataError(
                f"Fashion-MNIST is not in {raw}, Debian's package is not installed "
                f"({debian_dir} is missing), and the download failed: {err}\n{HOW_TO_GET}"
            ) from err
        return Found(root, "download")
    raise DataError(
        f"Fashion-MNIST is not in {raw} and Debian's package is not installed "
        f"({debian_dir} is missing).\n{HOW_TO_GET}"
    )


def read_idx(path: Path | str) -> np.ndarray:
    """An idx file as a NumPy uint8 array (N x 28 x 28 for images, N for labels), checked."""
    path = Path(path)
    check_idx(path)
    is_images = _expected(path.name)[0] == IMAGE_MAGIC
    array = np.fromfile(path, dtype=np.uint8, offset=16 if is_images else 8)
    return array.reshape(-1, SIZE, SIZE) if is_images else array


def tensors(
    train: bool = True, *, normalize: bool = True, root: Path | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split in memory: images float32 N x 1 x 28 x 28, labels int64 N.

    With ``normalize`` the pixels are in [-1, 1] (the tutorial's ``Normalize((0.5,), (0.5,))``);
    otherwise in [0, 1]. Batch them with :func:`batches`.
    """
    found = ensure(root)
    images_name, labels_name, _ = FILES["train" if train else "test"]
    images = torch.from_numpy(read_idx(found.raw / images_name)).unsqueeze(1).float().div_(255)
    labels = torch.from_numpy(read_idx(found.raw / labels_name).astype(np.int64))
    if normalize:
        images.sub_(MEAN).div_(STD)
    return images, labels


def unnormalize(images: torch.Tensor) -> torch.Tensor:
    """Undo :func:`tensors`' normalization: back to [0, 1] for display."""
    return (images * STD + MEAN).clamp(0, 1)


def datasets(root: Path | str | None = None, transform=None) -> tuple:
    """torchvision ``FashionMNIST`` train and test datasets over the checked cache.

    The default transform is the tutorial's ``ToTensor()`` + ``Normalize((0.5,), (0.5,))``.
    """
    from torchvision import datasets as tv_datasets
    from torchvision import transforms

    found = ensure(root)
    if transform is None:
        transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]
        )
    train = tv_datasets.FashionMNIST(found.root, train=True, download=False, transform=transform)
    test = tv_datasets.FashionMNIST(found.root, train=False, download=False, transform=transform)
    return train, test


def batches(
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches by index from in-memory tensors: no per-sample Python work."""
    if len(images) != len(labels):
        raise ValueError(
            f"images and labels differ in length: {len(images)} images, {len(labels)} labels"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    order = torch.randperm(len(images), generator=generator) if shuffle else None
    for start in range(0, len(images), batch_size):
        if order is None:
            yield images[start : start + batch_size], labels[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield images[idx], labels[idx]


def subset(
    images: torch.Tensor, labels: torch.Tensor, n: int, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples drawn at random (reproducibly) from a split, e.g. for an embedding."""
    if not 0 < n <= len(images):
        raise ValueError(f"n must be between 1 and {len(images)}, got {n}")
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
    return images[idx], labels[idx]


@dataclass
class Split:
    """Images (N x 1 x 28 x 28, normalized) and labels (N) held in memory."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))

    def first(self, n: int) -> Split:
        """The first ``n`` samples (the split is already shuffled, so any ``n`` are a sample)."""
        return Split(self.images[:n], self.labels[:n])


def load_splits(val_size: int = 5000, seed: int = 0) -> tuple[Split, Split, Split]:
    """Train / validation / test splits. Validation is a fixed random subset of the 60,000
    training images (for decisions while training); the 10,000 test images stay untouched
    (for the final number only)."""
    images, labels = tensors(train=True)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    train = Split(images[train_idx], labels[train_idx])
    return train, Split(images[val_idx], labels[val_idx]), Split(*tensors(train=False))


def main() -> None:
    """``python -m tbviz.data``: fetch (or find) the data and say where it came from."""
    try:
        found = ensure()
    except DataError as err:
        raise SystemExit(f"error: {err}") from None
    sources = {
        "cache": "already in the cache",
        "debian": f"copied from Debian's package ({DEBIAN_DIR})",
        "download": "downloaded by torchvision",
    }
    print(f"Fashion-MNIST ready in {found.raw}: {sources[found.source]}")


if __name__ == "__main__":
    main()
