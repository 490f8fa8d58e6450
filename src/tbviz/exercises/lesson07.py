"""Checkers for lesson 07 (precision-recall curves).

A PR curve is stored as a tensor of 6 rows x num_thresholds columns (TP, FP, TN, FN, precision,
recall); column k counts the scores >= k / (num_thresholds - 1). The private :class:`_Curve` and
:func:`_curves` read them (the framework's helpers cover scalars, not PR tensors).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tbviz import events
from tbviz.exercises import Attempt, Incorrect, each_step_once, exercise, expect

LESSON = "07_pr_curves"
TEST_IMAGES = 10_000  # Fashion-MNIST's test split; the validation split has 5,000


@dataclass(frozen=True)
class _Curve:
    """One logged PR curve: a run's tag at one step, as its 6 x num_thresholds table."""

    run: str
    tag: str
    step: int
    table: np.ndarray

    @property
    def where(self) -> str:
        return f"{self.tag!r} of run {self.run}"

    @property
    def n(self) -> int:
        return int(self.table.shape[1])

    @property
    def images(self) -> int:
        return int(np.rint(self.table[:4, 0].sum()))

    @property
    def positives(self) -> int:
        return int(np.rint(self.table[0, 0] + self.table[3, 0]))

    @property
    def share(self) -> float:
        return self.positives / self.images if self.images else 0.0

    def called(self, k: int) -> bool:
        return self.table[0, k] + self.table[1, k] > 0

    def looks_like_predictions(self) -> bool:
        """True when the labels were the model's own predictions (argmax == class), not the
        truth: every such positive scores at least 0.1 (the largest of ten probabilities), and
        every image scored above 0.5 is one; true labels leave misses at 0.1 and false alarms
        above 0.5."""
        low = int(0.095 * (self.n - 1))  # a threshold just under 0.1
        high = int(np.ceil(0.51 * (self.n - 1)))  # just over 0.5
        if not 0 < low < high < self.n:
            return False
        return self.table[3, low] == 0 and self.table[1, high] == 0

    def area(self) -> float:
        """Area under the curve over the thresholds where something was called positive."""
        keep = self.table[0] + self.table[1] > 0
        precision, recall = self.table[4][keep], self.table[5][keep]
        if not len(precision):
            return 0.0
        steps = (precision[1:] * (recall[:-1] - recall[1:])).sum()
        return float(steps + precision[-1] * recall[-1])


def _curves(attempt: Attempt, runs: Iterable[Path]) -> list[_Curve]:
    """Every PR curve (every tag, every step) in ``runs``; :class:`Incorrect` for a tensor
    that is no 6-row table, holds NaN, or a step written twice."""
    from tensorboard.util import tensor_util

    found = []
    for run in runs:
        try:
            acc = events.accumulator(run)
        except FileNotFoundError:
            continue
        for tag in acc.Tags().get("tensors", []):
            if acc.SummaryMetadata(tag).plugin_data.plugin_name != "pr_curves":
                continue
            name = attempt.name(run)
            logged = acc.Tensors(tag)
            each_step_once([event.step for event in logged], f"PR curve {tag!r}", run, name)
            for event in logged:
                table = np.asarray(tensor_util.make_ndarray(event.tensor_proto), dtype=float)
                expect(
                    table.ndim == 2 and table.shape[0] == 6 and table.shape[1] >= 2,
                    f"PR curve {tag!r} in run {name} is a tensor of shape {table.shape}, not "
                    "6 x num_thresholds",
                )
                expect(
                    np.isfinite(table).all() and table[:4, 0].sum() > 0,
                    f"PR curve {tag!r} in run {name} at step {event.step} holds NaN or no "
                    "images: are the scores finite probabilities and the labels non-empty?",
                )
                found.append(_Curve(name, tag, event.step, table))
    return found


def _latest(curves: list[_Curve]) -> list[_Curve]:
    """The last logged step of each (run, tag)."""
    last: dict[tuple[str, str], _Curve] = {}
    for curve in curves:
        key = (curve.run, curve.tag)
        if key not in last or curve.step > last[key].step:
            last[key] = curve
    return list(last.values())


def _list(curves: Iterable[_Curve]) -> str:
    return ", ".join(f"{c.run}:{c.tag} ({c.n} thresholds)" for c in curves) or "none"


def _need_curves(attempt: Attempt, runs: list[Path], what: str) -> list[_Curve]:
    curves = _curves(attempt, runs)
    if not curves:
        held = sorted({t for run in runs for t in events.tags(run).get("tensors", [])})
        raise Incorrect(
            f"none of the runs {[attempt.name(r) for r in runs]} holds a PR curve (tensors: "
            f"{held or 'none'}): {what}"
        )
    return curves


def _pick(curves: list[_Curve], n: int) -> _Curve:
    """The one curve with ``n`` thresholds, preferring a tag that names Shirt."""
    if len(curves) > 1:
        curves = [c for c in curves if "Shirt" in c.tag and "T-shirt" not in c.tag] or curves
    expect(
        len(curves) == 1,
        f"{len(curves)} PR curves have {n} thresholds ({_list(curves)}); keep one Shirt curve "
        "of each size",
    )
    return curves[0]


@exercise(
    LESSON,
    1,
    "coarse and fine curves",
    hints=(
        "Log the same Shirt curve twice in a run ex1_<something>, under two tags, e.g. "
        "Shirt/11_thresholds and Shirt/127_thresholds, changing only num_thresholds.",
        "writer.add_pr_curve(tag, labels == shirt, probs[:, shirt], global_step=step, "
        "num_thresholds=11), then the same with 127 (the default). Read each back with "
        "events.accumulator(run).Tensors(tag) and tensor_util.make_ndarray.",
        "The area: keep the columns where TP + FP > 0, then sum precision times each drop in "
        "recall, plus the last precision times the last recall (the lesson's area()).",
    ),
    solution="The Shirt curve logged with num_thresholds=11 and 127 into one run: tensors of "
    "shape (6, 11) and (6, 127); their areas differ by a few hundredths, the coarse curve being "
    "a polygon through 11 of the points.",
)
def coarse_fine(attempt: Attempt) -> str:
    runs = attempt.need_runs("the Shirt curve logged with 11 and with 127 thresholds")
    curves = _latest(
        _need_curves(
            attempt,
            runs,
            "log the Shirt curve with writer.add_pr_curve(..., num_thresholds=11) "
            "and again with 127",
        )
    )
    by_n: dict[int, list[_Curve]] = {}
    for curve in curves:
        by_n.setdefault(curve.n, []).append(curve)
    if 11 not in by_n:
        also = (
            " (127 is add_pr_curve's default: pass num_thresholds=11 for the coarse one)"
            if 127 in by_n
            else ""
        )
        raise Incorrect(f"no PR curve with 11 thresholds; found {_list(curves)}{also}")
    expect(
        127 in by_n,
        f"no PR curve with 127 thresholds; found {_list(curves)}. Log the fine one with "
        "num_thresholds=127 (torch caps it there)",
    )
    coarse, fine = _pick(by_n[11], 11), _pick(by_n[127], 127)
    expect(
        (coarse.images, coarse.positives) == (fine.images, fine.positives),
        f"the two curves count different images: {coarse.where} {coarse.images} with "
        f"{coarse.positives} positives, {fine.where} {fine.images} with {fine.positives}. Log the "
        "same labels and scores twice, changing only num_thresholds",
    )
    # threshold 0.5 is column 5 of 11 and column 63 of 127: the same images are called Shirt
    half_coarse, half_fine = coarse.table[:2, 5], fine.table[:2, 63]
    expect(
        np.abs(half_coarse - half_fine).max() <= 2 + 0.01 * fine.positives,
        f"at threshold 0.5 the coarse curve calls {half_coarse.sum():.0f} images positive and "
        f"the fine one {half_fine.sum():.0f}: log the same scores (the same network's "
        "probabilities) in both",
    )
    expect(
        0.05 <= fine.share <= 0.2,
        f"{fine.positives} of the {fine.images} images are positives ({fine.share:.0%}); for one "
        "class of Fashion-MNIST against the nine others about one in ten is: pass "
        "labels == shirt, the truth for every validation image",
    )
    expect(
        not fine.looks_like_predictions(),
        f"{fine.where} has no false alarm above 0.5 and no miss below 0.1: the labels look like "
        "the model's own predictions (probs.argmax(1) == shirt). Pass the truth, labels == shirt",
    )
    area_coarse, area_fine = coarse.area(), fine.area()
    expect(
        area_fine < 0.97,
        f"the curve looks perfect (area {area_fine:.3f}): are the labels the model's "
        "predictions? Pass the true labels, labels == shirt",
    )
    expect(
        area_fine > 0.3,
        f"the area under the curve is {area_fine:.3f}, close to guessing (about "
        f"{fine.share:.2f}): use the probabilities of the trained network, probs[:, shirt]",
    )
    return (
        f"{coarse.where} is a 6 x 11 tensor and {fine.where} a 6 x 127 one, over the same "
        f"{fine.images} images ({fine.positives} shirts); the areas under them are "
        f"{area_coarse:.3f} and {area_fine:.3f}, {abs(area_coarse - area_fine):.3f} apart."
    )


POINT = ("threshold", "val_precision", "val_recall", "test_precision", "test_recall")


def _point_scalars(attempt: Attempt, runs: list[Path]) -> dict[str, float]:
    """The five scalars of exercise 2, by their tag's last part (``operating_point/threshold``
    is ``threshold``): the last value of each."""
    where: dict[str, list[tuple[Path, str]]] = {name: [] for name in POINT}
    for run in runs:
        for tag in events.tags(run).get("scalars", []):
            last = tag.rsplit("/", 1)[-1]
            if last in where:
                where[last].append((run, tag))
    missing = [name for name, found in where.items() if not found]
    expect(
        not missing,
        f"no scalar named {missing} in the runs {attempt.where()}: log the five numbers as "
        f"scalars whose tags end in {', '.join(POINT)} (e.g. operating_point/threshold)",
    )
    values = {}
    for name, found in where.items():
        expect(
            len(found) == 1,
            f"{name} is logged {len(found)} times "
            f"({[f'{attempt.name(r)}:{t}' for r, t in found]}); keep one",
        )
        run, tag = found[0]
        values[name] = attempt.scalars(run, tag)[-1][1]
    return values


def _column(threshold: float, n: int) -> int | None:
    """The column of a curve with ``n`` thresholds that is ``threshold``, if there is one."""
    k = threshold * (n - 1)
    return round(k) if abs(k - round(k)) < 1e-3 else None


def _close(a: float, b: float, tolerance: float = 0.005) -> bool:
    return abs(a - b) <= tolerance


@exercise(
    LESSON,
    2,
    "a high-precision Shirt detector",
    hints=(
        "In a run ex2_<something>: log the validation curves (logs.add_pr_curves gives "
        "pr/Shirt), flush the writer, read pr/Shirt's 6 x 127 table back, and walk up its "
        "columns.",
        "The lowest threshold is the first column k where TP + FP > 0 and precision >= 0.9; the "
        "threshold is k / (num_thresholds - 1), so k / 126 for 127 thresholds, not k / 127.",
        "For the test split use the same threshold: log its Shirt curve too and read column k, "
        "or count test scores >= threshold. Log threshold, val_precision, val_recall, "
        "test_precision and test_recall (e.g. operating_point/threshold).",
    ),
    solution="The validation pr/Shirt curve's precision first reaches 0.9 well above threshold "
    "0.5, leaving a much lower recall; on the test split the same column gives a precision near "
    "0.9 and a recall near the validation one.",
)
def operating_point(attempt: Attempt) -> str:
    runs = attempt.need_runs("the validation pr/Shirt curve and the five scalars")
    point = _point_scalars(attempt, runs)
    curves = _need_curves(
        attempt, runs, "log the validation pr/Shirt curve the threshold is read from"
    )
    threshold = point["threshold"]
    expect(0 <= threshold <= 1, f"the threshold is {threshold:.4g}, not in [0, 1]")
    on_grid = [(c, k) for c in curves if (k := _column(threshold, c.n)) is not None]
    if not on_grid:
        n = max(curves, key=lambda c: c.n).n
        raise Incorrect(
            f"the threshold {threshold:.4f} is none of the logged curves' thresholds k / "
            f"(num_thresholds - 1) (for {n}: the nearest is {round(threshold * (n - 1))}/"
            f"{n - 1} = {round(threshold * (n - 1)) / (n - 1):.4f}). Column k of the tensor is "
            f"threshold k / {n - 1}, not k / {n}"
        )
    chosen = [
        (c, k)
        for c, k in on_grid
        if c.called(k)
        and _close(c.table[4, k], point["val_precision"])
        and _close(c.table[5, k], point["val_recall"])
    ]
    if not chosen:
        shirt = [(c, k) for c, k in on_grid if "Shirt" in c.tag and "test" not in c.tag.lower()]
        c, k = (shirt or on_grid)[0]
        raise Incorrect(
            f"at threshold {threshold:.4f} (column {k}) {c.where} has precision "
            f"{c.table[4, k]:.3f} and recall {c.table[5, k]:.3f}, but val_precision is "
            f"{point['val_precision']:.3f} and val_recall {point['val_recall']:.3f}: read rows 4 "
            "and 5 (precision, recall) of the validation curve at the chosen column"
        )
    val, k = chosen[0]
    expect(
        val.images != TEST_IMAGES,
        f"the threshold was read from {val.where}, a curve over {val.images} images: that is "
        "the test split. Choose it on the validation split, then use the test split once",
    )
    expect(
        not val.looks_like_predictions(),
        f"{val.where} has no false alarm above 0.5 and no miss below 0.1: its labels look like "
        "the model's own predictions. Log the curve with the truth, labels == shirt",
    )
    expect(
        0.05 <= val.share <= 0.2,
        f"{val.where} has {val.positives} positives among {val.images} images: it should be "
        "the Shirt curve (one class against the nine others, about one in ten)",
    )
    reached = [j for j in range(val.n) if val.called(j) and val.table[4, j] >= 0.9]
    expect(reached, f"precision never reaches 0.9 on {val.where}: did the network train?")
    expect(
        val.table[4, k] >= 0.9,
        f"at threshold {threshold:.4f} {val.where} has precision {val.table[4, k]:.3f}, below "
        f"0.9; it first reaches 0.9 at column {reached[0]}, threshold "
        f"{reached[0] / (val.n - 1):.4f}",
    )
    expect(
        k == reached[0],
        f"precision already reaches 0.9 at threshold {reached[0] / (val.n - 1):.4f} (column "
        f"{reached[0]}, precision {val.table[4, reached[0]]:.3f}), lower than the chosen "
        f"{threshold:.4f}: the lowest such threshold is wanted, as it keeps the most recall",
    )
    test_p, test_r = point["test_precision"], point["test_recall"]
    expect(
        0 <= test_p <= 1 and 0 <= test_r <= 1,
        f"test_precision {test_p:.4g} and test_recall {test_r:.4g} should be fractions in [0, 1]",
    )
    expect(
        (test_p, test_r) != (point["val_precision"], point["val_recall"]),
        "the test numbers equal the validation ones exactly: measure them on the test split",
    )
    others = [
        c
        for c in curves
        if c is not val
        and c.n == val.n
        and (c.images == TEST_IMAGES or "test" in c.tag.lower())
        and (c.run, c.tag) != (val.run, val.tag)
    ]
    how = "counted on the test split"
    if others:
        match = [
            c for c in others if _close(c.table[4, k], test_p) and _close(c.table[5, k], test_r)
        ]
        expect(
            match,
            f"at column {k} the test curve {others[0].where} has precision "
            f"{others[0].table[4, k]:.3f} and recall {others[0].table[5, k]:.3f}, but "
            f"test_precision is {test_p:.3f} and test_recall {test_r:.3f}: read the test curve "
            "at the column chosen on validation",
        )
        how = f"matching {match[0].where} at the same column"
    else:
        expect(
            abs(test_p - point["val_precision"]) < 0.1 and abs(test_r - point["val_recall"]) < 0.15,
            f"on the test split precision is {test_p:.3f} and recall {test_r:.3f}, far from "
            f"validation's {point['val_precision']:.3f} and {point['val_recall']:.3f} at the "
            f"same threshold: measure the test split at the threshold chosen on validation "
            f"({threshold:.4f}), counting the scores >= it",
        )
    return (
        f"on {val.where} precision first reaches 0.9 at threshold {threshold:.4f} (column {k}: "
        f"precision {val.table[4, k]:.3f}, recall {val.table[5, k]:.3f}); on the test split it "
        f"gives precision {test_p:.3f} and recall {test_r:.3f} ({how})."
    )


def _pair(curves: list[_Curve], name: str, other: str) -> _Curve:
    found = [c for c in curves if name in c.tag.lower() and other not in c.tag.lower()]
    expect(
        len(found) == 1,
        f"{len(found)} PR curves have {name!r} in their tag ({_list(found)}); log one curve "
        "per pair, tagged e.g. 'pairs/Shirt vs T-shirt' and 'pairs/Trouser vs Dress'",
    )
    curve = found[0]
    expect(
        0.3 <= curve.share <= 0.7,
        f"{curve.where} counts {curve.images} images of which {curve.positives} are positives "
        f"({curve.share:.0%}): keep only the validation images of the two classes, so that about "
        "half of them are positives",
    )
    return curve


@exercise(
    LESSON,
    3,
    "the hard pair",
    hints=(
        "keep = (labels == a) | (labels == b); the truth is labels[keep] == a, the score "
        "probs[keep, a] / (probs[keep, a] + probs[keep, b]).",
        "One add_pr_curve per pair in a run ex3_<something>, with the class names in the tags "
        "('pairs/Shirt vs T-shirt', 'pairs/Trouser vs Dress'); read both back and compare their "
        "areas.",
    ),
    solution="Each pair restricted to its two classes, scored by p(A) / (p(A) + p(B)): Trouser vs "
    "Dress has an area near 1, Shirt vs T-shirt/top clearly less; T-shirts are the largest "
    "single source of Shirt's false alarms.",
)
def hard_pair(attempt: Attempt) -> str:
    runs = attempt.need_runs("a PR curve for Shirt vs T-shirt/top and one for Trouser vs Dress")
    curves = _latest(_need_curves(attempt, runs, "log one curve per pair with add_pr_curve"))
    hard = _pair(curves, "shirt", "trouser")
    easy = _pair(curves, "trouser", "shirt")
    area_hard, area_easy = hard.area(), easy.area()
    expect(
        area_hard < 0.99,
        f"{hard.where} looks perfect (area {area_hard:.3f}): are the labels the model's "
        "predictions? The truth is labels[keep] == a, the class each image really is",
    )
    expect(
        area_easy > area_hard,
        f"{easy.where} has area {area_easy:.3f} and {hard.where} {area_hard:.3f}: the model "
        "should tell trousers from dresses better than shirts from T-shirts. Is the score the "
        "positive class's share, p(A) / (p(A) + p(B)), with the labels of the same images?",
    )
    return (
        f"{easy.where} ({easy.images} images) has area {area_easy:.3f} and {hard.where} "
        f"({hard.images} images) {area_hard:.3f}: the model separates Trouser from Dress "
        "better."
    )
