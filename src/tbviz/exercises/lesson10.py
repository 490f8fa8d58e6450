"""Checkers for lesson 10 (hyperparameter search with the HParams dashboard).

A search's trials are runs that hold hparams (``add_hparams(..., run_name=".")``). The lesson
teaches one search per log directory, so exercises 1 and 3 want their trials in a folder of
their own, e.g. ``10_hparams/ex1_weight_decay/<trial>``, not beside the lesson's eight trials.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from tbviz import events, logs
from tbviz.exercises import Attempt, Incorrect, NotAttempted, exercise, expect, tags

LESSON = "10_hparams"
TOP_TWO = (
    {"lr": 0.003, "batch_size": 64, "optimizer": "adamw"},
    {"lr": 0.03, "batch_size": 64, "optimizer": "adamw"},
)
"""The lesson's two best trials (its check cell asserts them), for a folder without them."""

_STAMP = re.compile(r"^\d+\.\d+$")


def _hparams(run: Path) -> dict[str, Any] | None:
    try:
        return events.hparams(run)
    except (KeyError, FileNotFoundError):
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _fmt(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in sorted(settings.items()))


def _trials(
    attempt: Attempt, what: str, key: str | None = None, advice: str = ""
) -> dict[Path, dict[str, Any]]:
    """{run: hparams} of the attempt's runs that hold hparams; :class:`Incorrect` for hparams
    in a time-stamped sub-run (``add_hparams`` without ``run_name="."``), none at all, or a
    trial whose hparams lack ``key``, if given (the message ends with ``advice``)."""
    runs = attempt.need_runs(what)
    found = {run: _hparams(run) for run in runs}
    stamped = [r for r, h in found.items() if h is not None and _STAMP.match(r.name)]
    if stamped:
        raise Incorrect(
            f"the hparams of {attempt.name(stamped[0])} went to a sub-run named like a time "
            "stamp, apart from the trial's curves: call add_hparams(..., run_name='.')"
        )
    trials = {r: h for r, h in found.items() if h is not None}
    expect(
        trials,
        f"none of the runs {[attempt.name(r) for r in runs][:6]} holds hparams: end each "
        "trial with writer.add_hparams(hparam_dict, metric_dict, run_name='.'), the writer "
        "being torch.utils.tensorboard's SummaryWriter (tensorboardX's cannot write hparams "
        "into the run itself)",
    )
    without = [attempt.name(r) for r, h in trials.items() if key is not None and key not in h]
    expect(not without, f"the hparams of {without[:3]} have no {key!r}: {advice}")
    return trials


def _one_folder(attempt: Attempt, trials: dict[Path, dict[str, Any]], example: str) -> Path:
    """The one folder holding the trials, which must hold no other search's hparams runs."""
    folders = sorted({run.parent for run in trials})
    shown = [f.relative_to(attempt.lesson_dir.parent).as_posix() for f in folders]
    expect(
        len(folders) == 1,
        f"the trials are split between folders {shown}: keep one search in one folder",
    )
    folder = folders[0]
    others = [
        child.name
        for child in sorted(folder.iterdir())
        if child.is_dir() and child not in trials and _hparams(child) is not None
    ]
    if others:
        raise Incorrect(
            f"the trials sit in {shown[0]} beside {len(others)} other runs with hparams "
            f"({others[:3]}...), another search: TensorBoard takes the dashboard's columns and "
            "value filters from one run's description per log directory, so this search's own "
            "keys or values may not show. Put the trials in a folder of their own inside the "
            f"lesson's, e.g. logs.run_dir(LESSON, {example!r}) / '<trial>', and open "
            "TensorBoard on it"
        )
    return folder


def _final(attempt: Attempt, run: Path, metric: str, curve: str) -> float:
    """The trial's final value: its hparams metric, else the last point of the curve."""
    held = tags(run).get("scalars", [])
    tag = metric if metric in held else curve
    if tag not in held:
        raise Incorrect(f"trial {attempt.name(run)} has neither {metric!r} nor {curve!r}")
    return attempt.scalars(run, tag)[-1][1]


@exercise(
    LESSON,
    1,
    "weight decay as a fourth hyperparameter",
    hints=(
        "Four trials (lr 0.003 and 0.03 x weight_decay 0.0 and 0.05), each run_trial-like: "
        "train.Config(..., optimizer='adamw', batch_size=128, weight_decay=wd), and "
        "hparam_dict with all four settings.",
        "The lesson's folder already holds eight trials whose experiment description has no "
        "weight_decay column and batch sizes 64 and 256 only. Where would a table with a "
        "weight_decay column come from?",
        "Give the search a folder of its own inside the lesson's, one run per trial: "
        "SummaryWriter(logs.run_dir(LESSON, 'ex1_weight_decay') / 'lr=0.003,wd=0.0').",
    ),
    solution="Four trials with hparams lr, weight_decay, batch_size and optimizer, in a folder "
    "of their own (not the lesson's, whose one experiment description lacks weight_decay and "
    "batch size 128); weight decay moves the accuracy by less than a point in one epoch.",
)
def weight_decay(attempt: Attempt) -> str:
    trials = _trials(
        attempt,
        "one run per trial, each with add_hparams",
        "weight_decay",
        "put it in every trial's hparam_dict",
    )
    names = {run: attempt.name(run) for run in trials}
    keys = {frozenset(h) for h in trials.values()}
    expect(
        len(keys) == 1,
        f"the trials have different hparams keys ({[sorted(k) for k in keys]}): give every "
        "trial the same keys, or the dashboard's table misses some",
    )
    expect(
        "lr" in next(iter(keys)),
        "the hparams have no 'lr': the search is over learning rate x weight decay",
    )
    for key, fixed in (("optimizer", "adamw"), ("batch_size", 128)):
        wrong = [names[r] for r, h in trials.items() if key in h and not _same(h[key], fixed)]
        expect(not wrong, f"{key} is not {fixed} in {wrong[:3]}: the exercise fixes it")
    decays = sorted({float(h["weight_decay"]) for h in trials.values()})
    expect(
        any(_same(d, 0.0) for d in decays) and any(_same(d, 0.05) for d in decays),
        f"weight_decay takes the values {decays}; the search needs 0.0 and 0.05",
    )
    rates = sorted({float(h["lr"]) for h in trials.values()})
    expect(len(rates) >= 2, f"every trial has lr = {rates[0]:g}: search at least two rates")
    settings: dict[tuple[float, float], list[str]] = {}
    for run, h in trials.items():
        settings.setdefault((float(h["lr"]), float(h["weight_decay"])), []).append(names[run])
    missing = [p for p in itertools.product(rates, decays) if p not in settings]
    expect(
        not missing,
        f"the grid is not complete: no trial for (lr, weight_decay) = {missing[:4]}",
    )
    twice = {k: v for k, v in settings.items() if len(v) > 1}
    expect(
        not twice,
        f"several trials for the same settings: {list(twice.values())[:2]}; keep one each",
    )
    folder = _one_folder(attempt, trials, "ex1_weight_decay")
    where = folder.relative_to(attempt.lesson_dir.parent).as_posix()
    return (
        f"{len(trials)} trials, lr {', '.join(map(_show, rates))} x weight_decay "
        f"{', '.join(map(_show, decays))}, each with hparams {', '.join(sorted(next(iter(keys))))}"
        f", in {where}, a folder that holds this search alone."
    )


def _resolve(pick: Any, trials: dict[Path, dict[str, Any]], attempt: Attempt) -> Path:
    """The trial a pick names: a run folder, a run name, or a row with a 'run' key."""
    if isinstance(pick, dict) and "run" in pick:
        pick = pick["run"]
    if not isinstance(pick, (str, Path)):
        raise Incorrect(f"pass each pick as a run name or a run folder, not {pick!r}")
    for run in trials:
        if Path(pick) == run or str(pick) in (run.name, attempt.name(run)):
            return run
    raise Incorrect(
        f"{str(pick)!r} is not one of exercise 1's trials "
        f"({sorted(attempt.name(r) for r in trials)})"
    )


@exercise(
    LESSON,
    2,
    "the best trial by validation loss",
    hints=(
        "Read exercise 1's trials back: events.scalars(run, 'hparam/val_loss')[-1][1] and the "
        "same for 'hparam/val_accuracy', one row per trial.",
        "min(rows, key=...) by val_loss and max(rows, key=...) by val_accuracy; pass the two "
        "picks' run names to the check: ex2.check(by_loss['run'], by_accuracy['run']).",
    ),
    solution="One row per exercise-1 trial from its hparam/ scalars; the lowest val loss and "
    "the highest val accuracy are the same trial here (lr=0.03, wd=0.05), but between close "
    "trials they can differ: the loss also weighs how sure the model is.",
    answer="ex2.check(best_by_loss, best_by_accuracy), the two trials' run names (or folders)",
)
def by_loss(attempt: Attempt, best_by_loss: Any, best_by_accuracy: Any) -> str:
    ex1 = Attempt(attempt.lesson_dir, 1)
    if not ex1.runs():
        raise NotAttempted(
            f"exercise 2 reads exercise 1's trials, and there is no run {ex1.where()} yet"
        )
    trials = _trials(ex1, "exercise 1's trials")
    loss = {run: _final(ex1, run, "hparam/val_loss", "Loss/val") for run in trials}
    acc = {run: _final(ex1, run, "hparam/val_accuracy", "Accuracy/val") for run in trials}
    picked_loss = _resolve(best_by_loss, trials, ex1)
    picked_acc = _resolve(best_by_accuracy, trials, ex1)
    lowest, highest = min(loss.values()), max(acc.values())
    best_loss = min(loss, key=loss.get)
    expect(
        loss[picked_loss] == lowest,
        f"trial {ex1.name(picked_loss)} has val loss {loss[picked_loss]:.4f}, but "
        f"{ex1.name(best_loss)} has the lowest, {lowest:.4f}",
    )
    best_acc = max(acc, key=acc.get)
    expect(
        acc[picked_acc] == highest,
        f"trial {ex1.name(picked_acc)} has val accuracy {acc[picked_acc]:.2%}, but "
        f"{ex1.name(best_acc)} has the highest, {highest:.2%}",
    )
    agree = "the same trial" if picked_loss == picked_acc else "different trials"
    return (
        f"of {len(trials)} trials, {ex1.name(picked_loss)} has the lowest val loss "
        f"({lowest:.3f}) and {ex1.name(picked_acc)} the highest val accuracy ({highest:.1%}): "
        f"{agree}."
    )


def _lesson_trials(lesson_dir: Path) -> list[tuple[float, Path, dict[str, Any]]]:
    """(val accuracy, run, hparams) of the lesson's own trials (not exercise runs), best first."""
    rows = []
    if lesson_dir.is_dir():
        for child in sorted(lesson_dir.iterdir()):
            if not child.is_dir() or logs.EXERCISE_RUN.match(child.name):
                continue
            h = _hparams(child)
            if h is None or "hparam/val_accuracy" not in tags(child).get("scalars", []):
                continue
            rows.append((events.scalars(child, "hparam/val_accuracy")[-1][1], child, h))
    return sorted(rows, key=lambda row: -row[0])


def _matches(own: dict[str, Any], other: dict[str, Any]) -> bool:
    """The settings agree on every key both have (the seed aside)."""
    return all(_same(own[k], other[k]) for k in own if k in other and k != "seed")


@exercise(
    LESSON,
    3,
    "the winner's lead against the seed noise",
    hints=(
        "Four trials: the lesson's two best settings x seeds 1 and 2 (six if you run seed 0 "
        "again; otherwise the check takes seed 0 from the lesson's own trials), each with "
        "runtime.seed(seed) before building the model, cfg.seed = seed, and 'seed' in "
        "hparam_dict.",
        "Put them in a folder of their own, e.g. logs.run_dir(LESSON, 'ex3_seeds') / "
        "'lr=0.03,seed=1': their seed key is not in the lesson's trials.",
        "Per setting: the mean of hparam/val_accuracy over the seeds, and the spread max - min. "
        "Compare the gap between the two means with the larger spread.",
    ),
    solution="The two settings with seeds 0, 1 and 2 in a folder of their own: mean 84.6% and "
    "85.3%, a gap of 0.6 points against a spread of up to 1.2 points across seeds, so the "
    "lesson's top two are a tie.",
)
def seeds(attempt: Attempt) -> str:
    trials = _trials(
        attempt,
        "one run per trial and seed with add_hparams, in ex3_seeds/",
        "seed",
        "put the seed in hparam_dict, so the table says which repeat each row is",
    )
    names = {run: attempt.name(run) for run in trials}
    expect(
        all("lr" in h for h in trials.values()),
        "the trials' hparams need 'lr' to tell the two settings apart",
    )
    _one_folder(attempt, trials, "ex3_seeds")
    groups: dict[tuple, dict[float, Path]] = {}
    for run, h in trials.items():
        setting = tuple(sorted((k, v) for k, v in h.items() if k != "seed"))
        seed = float(h["seed"])
        expect(
            seed not in groups.get(setting, {}),
            f"two trials of the same setting with seed {seed:g}: "
            f"{names[run]} and {names.get(groups.get(setting, {}).get(seed), '?')}",
        )
        groups.setdefault(setting, {})[seed] = run
    expect(
        len(groups) == 2,
        f"the trials have {len(groups)} settings ({'; '.join(_fmt(dict(s)) for s in groups)}); "
        "repeat exactly "
        "the lesson's two best",
    )
    lesson_trials = _lesson_trials(attempt.lesson_dir.parent / LESSON)
    if len(lesson_trials) >= 2:
        top = [lesson_trials[0][2], lesson_trials[1][2]]
        source = f"the lesson's runs {lesson_trials[0][1].name} and {lesson_trials[1][1].name}"
    else:  # the lesson's trials are not in this log root: the ones its check cell asserts
        top, source = [dict(t) for t in TOP_TWO], "the lesson's top two"
    for setting in groups:
        own = dict(setting)
        expect(
            any(_matches(own, t) for t in top),
            f"the setting {_fmt(own)} is not one of the lesson's two best trials ({source}: "
            f"{_fmt(top[0])} and {_fmt(top[1])})",
        )
    accs: dict[tuple, dict[float, float]] = {}
    for setting, by_seed in groups.items():
        missing = [int(s) for s in (1.0, 2.0) if s not in by_seed]
        expect(not missing, f"no trial of {_fmt(dict(setting))} with seed {missing}: repeat it")
        accs[setting] = {
            s: _final(attempt, run, "hparam/val_accuracy", "Accuracy/val")
            for s, run in by_seed.items()
        }
        if 0.0 not in by_seed:  # the lesson's own trial of this setting is seed 0
            own = [row for row in lesson_trials if _matches(dict(setting), row[2])]
            if len(own) == 1:
                accs[setting][0.0] = own[0][0]
        values = list(accs[setting].values())
        expect(
            max(values) - min(values) > 0,
            f"seeds {sorted(int(s) for s in accs[setting])} of {_fmt(dict(setting))} give "
            f"exactly the same val accuracy ({values[0]:.4f}): the seed only went into "
            "hparam_dict. Call "
            "runtime.seed(seed) before building the model and set cfg.seed = seed",
        )
    means = {s: sum(v.values()) / len(v) for s, v in accs.items()}
    spread = max(max(v.values()) - min(v.values()) for v in accs.values())
    (a, mean_a), (b, mean_b) = sorted(means.items(), key=lambda item: -item[1])
    gap = mean_a - mean_b
    verdict = (
        "larger than the spread: the lead holds"
        if gap > spread
        else "within the seed spread: a tie"
    )
    differ = [k for k, v in a if not any(k == k2 and _same(v, v2) for k2, v2 in b)] or ["lr"]
    label = {s: ", ".join(f"{k}={_show(v)}" for k, v in s if k in differ) for s in means}
    used = sorted({int(s) for v in accs.values() for s in v})
    return (
        f"over seeds {', '.join(map(str, used))}, {label[a]} averages {mean_a:.1%} and "
        f"{label[b]} {mean_b:.1%}: a gap of {100 * gap:.1f} points, {verdict} "
        f"(largest spread {100 * spread:.1f} points)."
    )
