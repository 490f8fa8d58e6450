"""Checkers for lesson 02 (scalars)."""

from __future__ import annotations

import re
from pathlib import Path

from tbviz.exercises import Attempt, Incorrect, exercise, expect

LESSON = "02_scalars"


def _lr(name: str) -> float | None:
    """The learning rate in a run name such as ``ex2_lr=0.99`` (None if there is none)."""
    match = re.search(r"lr=([0-9.]+(?:e-?\d+)?)", name)
    return float(match.group(1)) if match else None


@exercise(
    LESSON,
    1,
    "log the gradient",
    hints=(
        "Log it in the same iteration as x: after f.backward() and before optimizer.step(), "
        "x.grad holds f'(x) at the x you logged.",
        'writer.add_scalar("quadratic/grad", x.grad.item(), step) in minimize, in a run named '
        "ex1_<something> with lr = 0.01.",
    ),
    solution="minimize() gets a log_grad option that logs x.grad.item() after backward(); the "
    "check compares it with 2(x - 1) at every step.",
)
def gradient(attempt: Attempt) -> str:
    run = attempt.run_with("scalars", "quadratic/grad")
    grads = dict(attempt.scalars(run, "quadratic/grad"))
    xs = dict(attempt.scalars(run, "quadratic/x"))
    shared = [step for step in sorted(grads) if step in xs and step - 1 in xs]
    lagging = [
        s for s in shared if abs(grads[s] - 2 * (xs[s - 1] - 1)) < 1e-3 * max(1, abs(grads[s]))
    ]
    if shared and len(lagging) > 0.9 * len(shared):
        raise Incorrect(
            "quadratic/grad at each step equals 2(x - 1) of the step before: the gradient and "
            "x were logged one step apart. Log x before optimizer.step() and x.grad after "
            "f.backward(), both at the same step"
        )
    missing = sorted(set(xs) - set(grads))
    expect(not missing, f"quadratic/grad has no point at steps {missing[:5]} where x has one")
    for step in sorted(grads):
        if step in xs and abs(grads[step] - 2 * (xs[step] - 1)) > 1e-3 * max(1, abs(grads[step])):
            raise Incorrect(
                f"at step {step} quadratic/grad is {grads[step]:.5g} but 2(x - 1) = "
                f"{2 * (xs[step] - 1):.5g}: log x.grad after backward() and before "
                "optimizer.step(), at the same step as x"
            )
    last = grads[max(grads)]
    expect(len(grads) >= 100, f"only {len(grads)} steps; run the 500 steps of the lesson")
    expect(abs(last) < 0.01, f"the last gradient is {last:.3g}, not near 0: did x converge?")
    return (
        f"quadratic/grad equals 2(x - 1) at all {len(grads)} steps of {attempt.name(run)} and "
        f"ends at {last:.2g}."
    )


@exercise(
    LESSON,
    2,
    "the largest learning rate that converges",
    hints=(
        "One run per rate, named after it: ex2_lr=0.5, ex2_lr=0.9, ex2_lr=0.99, ex2_lr=1.0, "
        "ex2_lr=1.01, each minimize(...) with a = 1 and 500 steps.",
        "Each SGD step multiplies x - 1 by (1 - 2 a lr). What is that factor at lr = 1.0?",
    ),
    solution="minimize(f'ex2_lr={lr}', lr=lr) for the five rates; those below 1/a = 1 end at "
    "x = 1, lr = 1.0 bounces between 5 and -3 for ever, lr = 1.01 grows.",
)
def largest_lr(attempt: Attempt) -> str:
    runs = attempt.need_runs("one per learning rate, e.g. ex2_lr=0.9")
    wanted = (0.5, 0.9, 0.99, 1.0, 1.01)
    by_lr: dict[float | None, Path] = {}
    for run in runs:
        lr = _lr(attempt.name(run))
        if lr in by_lr and lr is not None:
            raise Incorrect(
                f"two runs for lr = {lr} ({attempt.name(by_lr[lr])}, {attempt.name(run)}); keep one"
            )
        by_lr[lr] = run
    missing = [lr for lr in wanted if lr not in by_lr]
    expect(
        not missing,
        f"no run for lr = {missing} (runs found: {[attempt.name(r) for r in runs]}); put the "
        "rate in the run name, e.g. ex2_lr=0.99",
    )
    final = {}
    for lr in wanted:
        points = attempt.scalars(by_lr[lr], "quadratic/x", finite=False)
        expect(len(points) >= 500, f"lr = {lr}: {len(points)} steps, 500 expected")
        (_, x0), (_, x1) = points[0], points[1]
        if x0 != 1:  # one SGD step on (x - 1)^2 moves x by lr * 2(x0 - 1)
            taken = (x0 - x1) / (2 * (x0 - 1))
            expect(
                abs(taken - lr) < 1e-3 * max(1, lr),
                f"run {attempt.name(by_lr[lr])} took a first step of lr {taken:.4g}, not {lr}: "
                "pass lr to the optimizer (and a = 1)",
            )
        final[lr] = points[-1][1]
    converged = {lr for lr, x in final.items() if abs(x - 1) < 0.01}
    expect(
        converged == {0.5, 0.9, 0.99},
        f"the runs that end within 0.01 of x = 1 are lr = {sorted(converged)}; with a = 1 they "
        "should be exactly the rates below 1/a = 1. Is a = 1 and x0 = 5?",
    )
    bounce = {round(x, 4) for _, x in attempt.scalars(by_lr[1.0], "quadratic/x")}
    return (
        f"lr = 0.5, 0.9 and 0.99 converge, 1.0 and 1.01 do not; at lr = 1.0 x takes "
        f"{len(bounce)} values ({sorted(bounce)[:3]}), bouncing for ever."
    )


def _has_momentum(name: str) -> bool:
    """``ex3_momentum=0.9`` or ``ex3_mom0.9`` yes; ``ex3_sgd``, ``ex3_no_momentum`` or
    ``ex3_momentum=0`` no."""
    name = name.lower()
    if re.search(r"no_?mom|mom(entum)?=?0(\.0*)?($|[^.0-9])", name):
        return False
    return "mom" in name


def _stays_below(points: list[tuple[int, float]], level: float = 1e-4) -> int:
    above = [step for step, f in points if f >= level]
    return (max(above) + 1) if above else points[0][0]


@exercise(
    LESSON,
    3,
    "momentum",
    hints=(
        "Two runs at lr = 0.01: ex3_sgd and ex3_momentum=0.9 (minimize with "
        "torch.optim.SGD(..., momentum=0.9)).",
        "'Stays below' is the last step with f >= 1e-4, plus one; 'first below' is the first "
        "step with f < 1e-4. Plot quadratic/x of the momentum run to see why they differ.",
    ),
    solution="The momentum run overshoots x = 1 several times: f first dips below 1e-4 at "
    "step 37 but stays below only from step 103, against 297 for plain SGD (about 3x).",
)
def momentum(attempt: Attempt) -> str:
    runs = attempt.need_runs("a plain SGD run and a momentum run, e.g. ex3_sgd, ex3_momentum=0.9")
    with_momentum = [r for r in runs if _has_momentum(attempt.name(r))]
    plain = [r for r in runs if not _has_momentum(attempt.name(r))]
    expect(
        len(with_momentum) == 1 and len(plain) == 1,
        f"expected two runs, a momentum one (its name says momentum or mom, e.g. "
        f"ex3_momentum=0.9) and a plain one (e.g. ex3_sgd); found "
        f"{[attempt.name(r) for r in runs]}",
    )
    f_plain = attempt.scalars(plain[0], "quadratic/f")
    f_mom = attempt.scalars(with_momentum[0], "quadratic/f")
    plain_stays, mom_stays = _stays_below(f_plain), _stays_below(f_mom)
    expect(
        f_plain[-1][1] < 1e-4 and f_mom[-1][1] < 1e-4,
        "f does not end below 1e-4 in both runs: train 500 steps at lr = 0.01",
    )
    expect(
        mom_stays < plain_stays,
        f"with momentum f stays below 1e-4 from step {mom_stays}, plain SGD from "
        f"{plain_stays}: momentum should be faster. Is momentum=0.9 set in the momentum run?",
    )
    first = next(step for step, f in f_mom if f < 1e-4)
    expect(
        first < mom_stays,
        "with momentum, f should dip below 1e-4 before it stays there (x overshoots 1); "
        f"here both happen at step {first}. Is it SGD with momentum=0.9 from x0 = 5?",
    )
    return (
        f"f stays below 1e-4 from step {plain_stays} (plain) and {mom_stays} (momentum): "
        f"{plain_stays / mom_stays:.1f}x faster; momentum's first dip, at step {first}, would "
        f"claim {plain_stays / first:.1f}x."
    )


@exercise(
    LESSON,
    4,
    "training accuracy, honestly measured",
    hints=(
        "After each epoch's last batch: Accuracy/train_eval = train.evaluate(net, train_part)[1],"
        " logged at step = batches seen, beside Accuracy/val, in a run named ex4_<something>.",
        "train.evaluate switches to eval mode and scores every image with the end-of-epoch "
        "weights; the running mean of the epoch mixes in the weights of its first batches.",
    ),
    solution="The lesson's loop plus one train.evaluate(net, train_part) per epoch; the "
    "end-of-epoch training accuracy comes out above the validation accuracy in every epoch.",
)
def train_eval(attempt: Attempt) -> str:
    run = attempt.run_with("scalars", "Accuracy/train_eval")
    mine = attempt.scalars(run, "Accuracy/train_eval")
    val = attempt.scalars(run, "Accuracy/val")
    expect(len(mine) >= 2, f"Accuracy/train_eval has {len(mine)} point; train two epochs")
    expect(
        [s for s, _ in mine] == [s for s, _ in val],
        f"Accuracy/train_eval is at steps {[s for s, _ in mine]} and Accuracy/val at "
        f"{[s for s, _ in val]}: log both once per epoch, at the same step (batches seen)",
    )
    expect(mine[0][0] > 1, "the step should be the number of batches seen, not the epoch")
    if any(not 0 <= v <= 1 for _, v in mine + val):
        raise Incorrect("accuracies should be fractions in [0, 1], as train.evaluate returns")
    expect(mine[-1][1] > 0.7, f"the last Accuracy/train_eval is {mine[-1][1]:.3f}: did it train?")
    if mine[0][1] < val[0][1]:
        raise Incorrect(
            f"in the first epoch Accuracy/train_eval ({mine[0][1]:.3f}) is below Accuracy/val "
            f"({val[0][1]:.3f}): is it the running mean over the epoch? Score the training "
            "images after the epoch, with train.evaluate"
        )
    return (
        f"Accuracy/train_eval ({', '.join(f'{v:.3f}' for _, v in mine)}) against Accuracy/val "
        f"({', '.join(f'{v:.3f}' for _, v in val)}), one point per epoch: measured after the "
        "epoch, training accuracy is above the first epoch's validation accuracy."
    )
