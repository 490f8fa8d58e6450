"""Checkers for lesson 06 (embeddings).

An embedding is not in the event file: these checkers read what the Projector reads, each run's
``projector_config.pbtxt`` and the ``tensors.tsv`` and ``metadata.tsv`` it points to, and
measure the embeddings the way the lesson does (sphereized points, cosine neighbours).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tbviz.data import CLASSES
from tbviz.exercises import Attempt, Incorrect, NotAttempted, exercise, expect

LESSON = "06_embeddings"
PIXELS = 28 * 28
KIND = {
    "T-shirt/top": "top",
    "Pullover": "top",
    "Coat": "top",
    "Shirt": "top",
    "Sandal": "shoe",
    "Sneaker": "shoe",
    "Ankle boot": "shoe",
}
TOPS = {name for name, kind in KIND.items() if kind == "top"}
# Exercise 1's floor on the 5-NN accuracy of 300 points: the solutions' network, trained for one
# epoch, gives 85-89% on five draws of 300 test images; three untrained networks give 62-72%.
KNN_TRAINED = 0.75
# Exercise 3: a learner's count of the top pair may differ from the checker's by this fraction.
COUNT_TOLERANCE = 0.10


# ------------------------------------------------------------------- reading the Projector's files


@dataclass(frozen=True)
class _Embedding:
    """One embedding listed in a run's ``projector_config.pbtxt``."""

    run: Path
    run_name: str
    name: str  # the Projector's tensor name, e.g. "learned:00000"
    tensor_path: Path
    metadata_path: Path | None

    def __str__(self) -> str:
        return f"{self.run_name}/{self.name}"

    def columns(self) -> int:
        """The number of values per point, from the first line of tensors.tsv."""
        try:
            with self.tensor_path.open(encoding="utf-8") as file:
                return len(file.readline().rstrip("\n").split("\t"))
        except OSError as err:
            raise Incorrect(
                f"the embedding {self}: cannot read {self.tensor_path.name}: {err}"
            ) from err

    def features(self) -> torch.Tensor:
        """tensors.tsv as an N x D float tensor, checked finite."""
        try:
            values = np.loadtxt(self.tensor_path, delimiter="\t", dtype=np.float32, ndmin=2)
        except OSError as err:
            raise Incorrect(
                f"the embedding {self}: its tensors.tsv, listed in projector_config.pbtxt, "
                f"cannot be read ({err}); log the embedding again"
            ) from err
        except ValueError as err:
            raise Incorrect(
                f"the embedding {self}: tensors.tsv is not a table of numbers ({err})"
            ) from err
        features = torch.from_numpy(values)
        bad = int((~torch.isfinite(features)).any(dim=1).sum())
        expect(
            bad == 0,
            f"the embedding {self}: {bad} of its {len(features)} points "
            f"{'holds' if bad == 1 else 'hold'} NaN or Inf values",
        )
        return features

    def table(self) -> tuple[list[str] | None, list[list[str]]]:
        """(header, rows) of metadata.tsv as the Projector reads it: a file of one column has
        no header; with several columns, the first line is the header. ([], []) without one."""
        if self.metadata_path is None:
            return None, []
        try:
            lines = self.metadata_path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise Incorrect(
                f"the embedding {self}: its metadata.tsv cannot be read ({err})"
            ) from err
        rows = [line.split("\t") for line in lines]
        if rows and len(rows[0]) > 1:
            return rows[0], rows[1:]
        return None, rows


def _embeddings(attempt: Attempt, runs: list[Path]) -> tuple[list[_Embedding], list[str]]:
    """The embeddings the Projector lists for ``runs``, and the tensors.tsv files on disk that no
    config lists (what a second writer on the same run drops)."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    found, unlisted = [], []
    for run in runs:
        name = attempt.name(run)
        listed: set[Path] = set()
        config_path = run / "projector_config.pbtxt"
        if config_path.is_file():
            try:
                config = text_format.Parse(
                    config_path.read_text(encoding="utf-8"), ProjectorConfig()
                )
            except (text_format.ParseError, UnicodeDecodeError) as err:
                raise Incorrect(
                    f"the projector_config.pbtxt of run {name} is damaged: {err}"
                ) from err
            for embedding in config.embeddings:
                tensor = (run / embedding.tensor_path).resolve()
                metadata = (run / embedding.metadata_path) if embedding.metadata_path else None
                listed.add(tensor)
                found.append(_Embedding(run, name, embedding.tensor_name, tensor, metadata))
        for tensor in sorted(run.glob("*/*/tensors.tsv")):
            if tensor.resolve() not in listed:
                unlisted.append(f"{name}/{tensor.parent.relative_to(run).as_posix()}")
    return found, unlisted


def _need_embeddings(
    attempt: Attempt, runs: list[Path], holder: str
) -> tuple[list[_Embedding], list[str]]:
    """The embeddings of ``runs`` and the unlisted ones (see :func:`_embeddings`);
    :class:`Incorrect` without a listed embedding, naming ``holder`` ("the run x holds")."""
    found, unlisted = _embeddings(attempt, runs)
    if not found:
        dropped = (
            f"; the files of {unlisted} are on disk, but no projector_config.pbtxt lists them"
            if unlisted
            else ""
        )
        raise Incorrect(
            f"{holder} no embedding (no projector_config.pbtxt lists one{dropped}). Log it with "
            "logs.add_embedding(writer, features, ...) or writer.add_embedding in a run named "
            f"{attempt.prefix}_<something>"
        )
    return found, unlisted


def _written(run: Path) -> float:
    """When a run was last written: the newest modification time of its event files."""
    return max((f.stat().st_mtime for f in run.glob("events.out.tfevents.*")), default=0.0)


def _first_passing(attempt: Attempt, candidates: list[tuple[Path, Any]], judge) -> str:
    """``judge(candidate)`` for each ``(run, candidate)``: the first verdict that passes (naming
    its run when there are several runs); otherwise :class:`Incorrect` with the failure of the
    newest run (by event-file time; the last candidate of it), named."""
    failures = []
    for index, (run, candidate) in enumerate(candidates):
        try:
            message = judge(candidate)
        except Incorrect as why:
            failures.append((_written(run), index, run, why))
            continue
        runs = {r for r, _ in candidates}
        if len(runs) > 1:
            message += f" (of your {len(runs)} runs {attempt.where()}, {attempt.name(run)} passes.)"
        return message
    _, _, run, why = max(failures, key=lambda failure: failure[:2])
    runs = {r for r, _ in candidates}
    if len(runs) > 1:
        raise Incorrect(
            f"none of your {len(runs)} runs {attempt.where()} passes; the newest, "
            f"{attempt.name(run)}: {why}"
        )
    raise why


def _class_indices(header: list[str] | None, rows: list[list[str]]) -> list[int] | None:
    """The class of each row, from the first column that holds only class names (or only the
    digits 0-9); None if no column does."""
    if not rows or any(len(row) != len(rows[0]) for row in rows):
        return None
    index = {name: k for k, name in enumerate(CLASSES)}
    for column in range(len(rows[0])):
        values = [row[column].strip() for row in rows]
        if all(value in index for value in values):
            return [index[value] for value in values]
        if all(value.isdigit() and int(value) < len(CLASSES) for value in values):
            return [int(value) for value in values]
    return None


def _labelled(embedding: _Embedding) -> list[int]:
    """The class of each point of ``embedding``, from its metadata; Incorrect when it has none."""
    header, rows = embedding.table()
    expect(
        rows,
        f"the embedding {embedding} has no metadata: pass metadata=[class name of each "
        "image] (e.g. [data.CLASSES[y] for y in labels]) so that its points have classes",
    )
    labels = _class_indices(header, rows)
    expect(
        labels is not None,
        f"no column of {embedding}'s metadata.tsv holds only class names (first row: "
        f"{rows[0]}); pass metadata=[data.CLASSES[y] for y in labels]",
    )
    return labels


# ----------------------------------------------------------------------- the lesson's measures


def _sphereize(features: torch.Tensor) -> torch.Tensor:
    """What the Projector's "Sphereize data" does: centre on the mean, scale to length 1."""
    centred = features.double() - features.double().mean(dim=0)
    return centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-12)


def _neighbours(features: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of each point's ``k`` nearest other points by cosine distance between the
    sphereized points: the Projector's default list (in blocks, for large embeddings)."""
    unit = _sphereize(features)
    out = []
    for start in range(0, len(unit), 2000):
        distances = 1 - unit[start : start + 2000] @ unit.T
        rows = torch.arange(len(distances))
        distances[rows, rows + start] = float("inf")  # a point is not its own neighbour
        out.append(distances.topk(k, largest=False).indices)
    return torch.cat(out)


def _knn_accuracy(features: torch.Tensor, labels: list[int], k: int = 5) -> float:
    """The lesson's 5-NN vote: how often the majority class of a point's k neighbours is its own."""
    labels_t = torch.tensor(labels)
    votes = labels_t[_neighbours(features, k)].mode(dim=1).values
    return (votes == labels_t).double().mean().item()


def _pair(a: int | str, b: int | str) -> frozenset[str]:
    return frozenset(
        (CLASSES[a] if isinstance(a, int) else a, CLASSES[b] if isinstance(b, int) else b)
    )


def _show(pair: frozenset[str]) -> str:
    names = sorted(pair, key=CLASSES.index)
    return " / ".join(names) if len(names) == 2 else f"{names[0]} / {names[0]}"


# ------------------------------------------------------------------------------ the checkers


@exercise(
    LESSON,
    1,
    "two metadata columns",
    hints=(
        "Each metadata entry becomes a list, [class name, kind], e.g. ['Shirt', 'top']; a dict "
        "from the seven named classes to 'top' or 'shoe', with .get(name, 'other'), gives the "
        "kind.",
        "logs.add_embedding(writer, penultimate(net, images), metadata=rows, "
        'metadata_header=["class", "kind"], tag=...) for 300 test images, with the trained '
        "network, in a run named ex1_<something>.",
        "Without metadata_header, each list is written as one string (\"['Shirt', 'top']\"): one "
        "column. With it, metadata.tsv starts with the line 'class<TAB>kind'.",
    ),
    solution="rows = [[name, KIND.get(name, 'other')] ...]; add_embedding(..., metadata=rows, "
    "metadata_header=['class', 'kind']): a header line, then one tab-separated row per point. "
    "Tops and shoes each form a group; 'other' does not.",
)
def two_columns(attempt: Attempt) -> str:
    runs = attempt.need_runs("an embedding with two metadata columns")
    candidates = [(run, run) for run in runs]
    return _first_passing(attempt, candidates, lambda run: _two_columns_run(attempt, run))


def _two_columns_run(attempt: Attempt, run: Path) -> str:
    """Exercise 1 on one run's embeddings."""
    found, _ = _need_embeddings(attempt, [run], f"the run {attempt.name(run)} holds")
    tables = [(embedding, *embedding.table()) for embedding in found]
    with_header = [t for t in tables if t[1] is not None]
    if not with_header:
        embedding, _, rows = next((t for t in tables if t[2]), tables[0])
        expect(
            rows,
            f"the embedding {embedding} has no metadata: pass metadata=rows (one [class, kind] "
            'list per image) and metadata_header=["class", "kind"]',
        )
        raise Incorrect(
            f"the metadata.tsv of {embedding} has one column (first line: {rows[0][0]!r}): pass "
            'metadata_header=["class", "kind"] too, so that each entry\'s two values become two '
            "columns under a header line"
        )
    # prefer learned features to pixels when both were logged with two columns
    with_header.sort(key=lambda t: t[0].columns() == PIXELS)
    embedding, header, rows = with_header[0]
    labels = _class_indices(header, rows)
    expect(
        labels is not None,
        f"no column of {embedding}'s metadata ({header}) holds only class names; first row: "
        f"{rows[0] if rows else 'none'}",
    )
    kinds = None
    for column in range(len(header)):
        values = [row[column].strip() for row in rows]
        if set(values) <= {"top", "shoe", "other"}:
            kinds = values
    expect(
        kinds is not None,
        f"no column of {embedding}'s metadata ({header}) holds only the kinds top, shoe and "
        f"other; first row: {rows[0] if rows else 'none'}",
    )
    wrong = Counter(
        (CLASSES[y], kind)
        for y, kind in zip(labels, kinds, strict=True)
        if kind != KIND.get(CLASSES[y], "other")
    )
    expect(
        not wrong,
        f"some rows have the wrong kind: {[f'{c} as {k!r}' for c, k in wrong][:4]}. The kinds: "
        "top for T-shirt/top, Pullover, Coat and Shirt; shoe for Sandal, Sneaker and Ankle boot; "
        "other for Trouser, Dress and Bag",
    )
    features = embedding.features()
    expect(
        len(features) == len(rows),
        f"{embedding} has {len(features)} points but {len(rows)} metadata rows",
    )
    expect(
        len(features) >= 300,
        f"the embedding {embedding} has {len(features)} points; embed 300 test images (or more)",
    )
    expect(
        features.shape[1] != PIXELS,
        f"the embedding {embedding} holds {PIXELS} numbers per point, the pixels: embed the "
        "trained network's "
        "penultimate features (net.features, or the lesson's penultimate(net, images))",
    )
    knn = _knn_accuracy(features, labels)
    expect(
        knn >= KNN_TRAINED,
        f"in {embedding}, the 5-NN accuracy (5 cosine neighbours of the sphereized points) is "
        f"{knn:.1%}, below {KNN_TRAINED:.0%}: are these the features of the trained network? "
        "(An untrained network's features reach about 65%, a network trained for one epoch "
        "about 85%; compute them in eval mode.)",
    )
    unit = _sphereize(features)
    labels_t = torch.tensor(labels)
    present = [c for c in range(len(CLASSES)) if (labels_t == c).any()]
    centres = torch.stack([unit[labels_t == c].mean(dim=0) for c in present])
    centres = centres / centres.norm(dim=1, keepdim=True).clamp(min=1e-12)
    between = 1 - centres @ centres.T

    def spread(names: set[str] | None) -> float:
        idx = [i for i, c in enumerate(present) if names is None or CLASSES[c] in names]
        pairs = [between[i, j].item() for i in idx for j in idx if i < j]
        return float(np.mean(pairs)) if pairs else float("nan")

    groups = {
        kind: spread({c for c in CLASSES if KIND.get(c, "other") == kind}) for kind in KIND.values()
    }
    groups["other"] = spread({c for c in CLASSES if c not in KIND})
    anywhere = spread(None)
    expect(
        groups["top"] < anywhere and groups["shoe"] < anywhere,
        f"in {embedding}, the classes of one kind are not closer to each other than two "
        f"classes on average (mean cosine distance between class centres: top "
        f"{groups['top']:.2f}, shoe {groups['shoe']:.2f}, any two {anywhere:.2f}): are these "
        "the features of the trained network?",
    )
    return (
        f"the embedding {embedding} has {len(features)} points of {features.shape[1]} features "
        f"and a metadata.tsv "
        f"with the header {header} and a consistent class and kind on every row; tops "
        f"({groups['top']:.2f}) and shoes ({groups['shoe']:.2f}) are closer than two classes on "
        f"average ({anywhere:.2f}), 'other' ({groups['other']:.2f}) is no group; 5-NN "
        f"accuracy {knn:.1%}."
    )


@exercise(
    LESSON,
    2,
    "raw pixels against learned features",
    hints=(
        "data.subset(test_split.images, test_split.labels, 2000); the pixels are "
        "images.reshape(len(images), -1) (784 numbers), the learned features penultimate(net, "
        "images) from the trained network.",
        "Both through ONE writer (with logs.writer(LESSON, 'ex2_<something>') as writer:), each "
        "with its own tag and the class names as metadata, so one projector_config.pbtxt lists "
        "both.",
        "Then read both back and compare the lesson's knn_accuracy (5 cosine neighbours of the "
        "sphereized points) of the two.",
    ),
    solution="Two logs.add_embedding calls in one run, tags 'pixels' and 'learned', the same "
    "2,000 test images and class names; 5-NN accuracy about 78% for pixels, 88% for the learned "
    "features.",
)
def pixels_vs_learned(attempt: Attempt) -> str:
    runs = attempt.need_runs("one run with a pixels and a learned embedding")
    found, unlisted = _need_embeddings(attempt, runs, f"the runs {attempt.where()} hold")
    shapes = {embedding: embedding.columns() for embedding in found}
    pixels = [e for e in found if shapes[e] == PIXELS]
    learned = [e for e in found if shapes[e] != PIXELS]
    listed = [f"{e} ({shapes[e]} columns)" for e in found]
    dropped = (
        f" ({unlisted} are on disk but unlisted: a second writer on the same run rewrote "
        "projector_config.pbtxt; log both through one writer)"
        if unlisted
        else ""
    )
    expect(
        pixels,
        f"no embedding of raw pixels ({PIXELS} numbers per image) in {attempt.where()}; found "
        f"{listed}{dropped}",
    )
    expect(
        learned,
        f"no embedding of learned features (the network's penultimate layer) in "
        f"{attempt.where()}; found {listed}{dropped}",
    )
    together = [(p, lf) for p in pixels for lf in learned if p.run == lf.run]
    expect(
        together,
        f"the pixels ({pixels[0]}) and the learned features ({learned[0]}) are in different "
        "runs: embed both in one run, through one writer, so that one projector_config.pbtxt "
        "lists both",
    )
    return _first_passing(
        attempt, [(p.run, (p, lf)) for p, lf in together], lambda pair: _compare(*pair)
    )


def _compare(pixel_emb: _Embedding, learned_emb: _Embedding) -> str:
    """Exercise 2 on one run's pixels and learned embeddings."""
    x_pixels, x_learned = pixel_emb.features(), learned_emb.features()
    for embedding, x in ((pixel_emb, x_pixels), (learned_emb, x_learned)):
        expect(
            len(x) >= 2000,
            f"the embedding {embedding} has {len(x)} points; embed 2,000 test images (or more)",
        )
    labels_pixels, labels_learned = _labelled(pixel_emb), _labelled(learned_emb)
    expect(
        len(labels_pixels) == len(x_pixels) and len(labels_learned) == len(x_learned),
        f"the metadata rows ({len(labels_pixels)}, {len(labels_learned)}) do not match the "
        f"points ({len(x_pixels)}, {len(x_learned)}): one row per point",
    )
    expect(
        labels_pixels == labels_learned,
        f"{pixel_emb} and {learned_emb} have different metadata: embed the SAME images (in the "
        "same order) twice, once as pixels and once as learned features",
    )
    knn_pixels, knn_learned = (
        _knn_accuracy(x_pixels, labels_pixels),
        _knn_accuracy(x_learned, labels_learned),
    )
    expect(
        knn_learned > knn_pixels,
        f"the 5-NN accuracy of {learned_emb} ({knn_learned:.1%}) is not above that of the "
        f"pixels ({knn_pixels:.1%}): are these the features of the TRAINED network (an "
        "untrained one does worse than the pixels), computed in eval mode?",
    )
    return (
        f"run {pixel_emb.run_name} lists {pixel_emb.name} ({len(x_pixels)} x {PIXELS}) and "
        f"{learned_emb.name} ({len(x_learned)} x {x_learned.shape[1]}) of the same images; "
        f"5-NN accuracy {knn_pixels:.1%} for the pixels, {knn_learned:.1%} for the learned "
        f"features, {100 * (knn_learned - knn_pixels):.1f} points higher."
    )


def _pairs(answer: Any) -> list[tuple[frozenset[str], float | None]]:
    """The learner's pairs, most frequent first, (a, b) and (b, a) merged: from a Counter or
    dict {(a, b): count}, a most_common() list [((a, b), count), ...] or a list of pairs."""

    def as_pair(item: Any) -> frozenset[str] | None:
        if isinstance(item, str):
            for sep in (" / ", " and ", " vs ", ", "):
                if sep in item:
                    item = item.split(sep)
                    break
            else:
                return None
        if isinstance(item, list | tuple | set | frozenset) and len(item) in (1, 2):
            names = []
            for value in item:
                if hasattr(value, "item"):
                    value = value.item()
                if isinstance(value, int) and 0 <= value < len(CLASSES):
                    names.append(CLASSES[value])
                elif isinstance(value, str) and value.strip() in CLASSES:
                    names.append(value.strip())
                else:
                    return None
            return frozenset(names)
        return None

    if isinstance(answer, Mapping):
        items = [(key, value) for key, value in answer.items()]
    elif isinstance(answer, list | tuple):
        items = []
        for element in answer:
            if (
                isinstance(element, list | tuple)
                and len(element) == 2
                and as_pair(element[0]) is not None
                and isinstance(element[1], int | float | np.integer | np.floating)
            ):
                items.append((element[0], element[1]))
            else:
                items.append((element, None))
    else:
        raise Incorrect(
            "pass your count of the pairs, e.g. ex3.check(pairs) with pairs a Counter "
            "{(class, class): count}, or pairs.most_common(), or a list of pairs, most frequent "
            f"first; got {repr(answer)[:80]}"
        )
    merged: dict[frozenset[str], float | None] = {}
    for key, count in items:
        pair = as_pair(key)
        expect(
            pair is not None,
            f"{key!r} is not a pair of class names: write each pair as a tuple of two names, "
            "e.g. ('Sandal', 'Sneaker')",
        )
        expect(
            len(pair) == 2,
            f"{_show(pair)} is not a pair of different classes: count only the images whose "
            "nearest neighbour is of another class",
        )
        if pair in merged and count is not None and merged[pair] is not None:
            merged[pair] += float(count)  # (a, b) and (b, a): one pair
        elif pair not in merged:
            merged[pair] = None if count is None else float(count)
    expect(merged, "your answer holds no pair; pass the pairs you counted, most frequent first")
    order = list(merged.items())
    if all(count is not None for _, count in order):
        order.sort(key=lambda item: -item[1])
    return order


@exercise(
    LESSON,
    3,
    "which classes overlap",
    hints=(
        "Use the learned embedding of exercise 2 (or log one in a run named ex3_<something>): "
        "read it back, and take each point's single nearest neighbour with the lesson's "
        "neighbours(features, k=1).",
        "For every point whose neighbour has another class, count the pair of the two class "
        "names sorted, so that (Sandal, Sneaker) and (Sneaker, Sandal) are one pair: "
        "collections.Counter(tuple(sorted((a, b))) ...).",
        "Pass the Counter to the check: ex3.check(pairs); its most_common() list works too.",
    ),
    solution="a Counter of sorted (class, neighbour's class) pairs over the 2,000 learned "
    "points of exercise 2, read with most_common(); the notebook shows the count, which pairs "
    "come first, and how they compare with the pairs the classifier confuses.",
    answer="ex3.check(pairs), your count of the pairs of different classes, e.g. a Counter "
    "{(class, other class): count, ...} or its most_common() list",
)
def overlapping_classes(attempt: Attempt, pairs: Any) -> str:
    candidates = []
    for number in (attempt.number, 2):
        source = Attempt(attempt.lesson_dir, number)
        runs = source.runs()
        if not runs:
            continue
        found, _ = _embeddings(source, runs)
        for embedding in found:
            if embedding.columns() == PIXELS:
                continue
            header, rows = embedding.table()
            if rows and _class_indices(header, rows) is not None:
                candidates.append(embedding)
        if candidates:
            break
    if not candidates:
        raise NotAttempted(
            f"no embedding of learned features with class names in {attempt.where()} or "
            f"{Attempt(attempt.lesson_dir, 2).where()}: this exercise counts the nearest "
            "neighbours of exercise 2's learned embedding (or of one you log in a run named "
            "ex3_<something>)"
        )
    answer = _pairs(pairs)
    embedding = max(candidates, key=lambda e: e.metadata_path.stat().st_size)
    features, labels = embedding.features(), _labelled(embedding)
    expect(
        len(features) == len(labels),
        f"{embedding} has {len(features)} points but {len(labels)} metadata rows",
    )
    nearest = _neighbours(features, 1)[:, 0].tolist()
    counts = Counter(
        _pair(labels[i], labels[j]) for i, j in enumerate(nearest) if labels[i] != labels[j]
    )
    expect(counts, f"in {embedding} every point's nearest neighbour has its own class")
    ranked = counts.most_common()
    best = ranked[0][1]
    first, told = answer[0]
    top4 = ", ".join(f"{_show(pair)} ({count})" for pair, count in ranked[:4])
    expect(  # the counts of the pairs ahead are not shown: they would give the answer away
        counts.get(first, 0) == best,
        f"your first pair is {_show(first)}, but in {embedding} the nearest neighbours (cosine "
        f"distance between sphereized points) pair it {counts.get(first, 0)} times, and another "
        "pair more often: count each point once, with its single nearest other point, and count "
        "(a, b) and (b, a) as one pair",
    )
    counted = ""
    if told is not None:
        expect(
            abs(told - best) <= COUNT_TOLERANCE * best,
            f"your first pair, {_show(first)}, is the right one, but you counted it {told:g} "
            f"times, and the nearest neighbours in {embedding} give {best} (more than "
            f"{COUNT_TOLERANCE:.0%} apart): count each of its {len(labels)} points once, with "
            "its single nearest other point (cosine distance between sphereized points)",
        )
        counted = f" (you counted {told:g})"
    upper = sum(pair <= TOPS for pair, _ in ranked[:4])
    return (
        f"your first pair, {_show(first)}{counted}, comes first in {embedding} too: {top4}; "
        f"{upper} of these {len(ranked[:4])} pairs are upper-body garments."
    )
