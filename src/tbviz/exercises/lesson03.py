"""Checkers for lesson 03 (histograms)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from tbviz import events
from tbviz.exercises import Attempt, Incorrect, each_step_once, exercise, expect, tags

LESSON = "03_histograms"


def _histogram_tags(run: Path) -> list[str]:
    return sorted(tags(run).get("histograms", []))


def _one_run(
    attempt: Attempt, wanted: Callable[[str], bool], what: str, example: str, advice: str = ""
) -> tuple[Path, list[str]]:
    """The one run of the exercise with histogram tags that ``wanted`` accepts, and those tags;
    :class:`Incorrect` naming what the runs hold when none has any, or when several do."""
    runs = attempt.need_runs(example)
    found = {run: [t for t in _histogram_tags(run) if wanted(t)] for run in runs}
    holding = [run for run, chosen in found.items() if chosen]
    if not holding:
        held = sorted({t for run in runs for t in _histogram_tags(run)})
        shown = ", ".join(held[:6]) + (", ..." if len(held) > 6 else "") if held else "none"
        raise Incorrect(
            f"none of the runs {attempt.where()} has {what}; their histograms: {shown}"
            + (advice if held else "")
        )
    if len(holding) > 1:
        names = [attempt.name(run) for run in holding]
        raise Incorrect(f"{len(holding)} runs have {what} ({names}); keep one")
    return holding[0], found[holding[0]]


def _histograms(attempt: Attempt, run: Path, tag: str) -> list:
    """The histogram records of ``tag``, in step order, each step once, with finite sums."""
    logged = events.accumulator(run).Histograms(tag)
    each_step_once([e.step for e in logged], f"histogram {tag!r}", run, attempt.name(run))
    for event in logged:
        h = event.histogram_value
        if h.num <= 0 or not all(map(math.isfinite, (h.min, h.max, h.sum, h.sum_squares))):
            raise Incorrect(
                f"histogram {tag!r} at step {event.step} holds NaN or Inf values (min {h.min}, "
                f"max {h.max}): log finite values (logs.add_histogram drops the others)"
            )
    return sorted(logged, key=lambda e: e.step)


def _mean(event) -> float:
    h = event.histogram_value
    return h.sum / h.num


@exercise(
    LESSON,
    1,
    "histograms of the batch-norm buffers",
    hints=(
        "Buffers are not parameters: loop over net.named_buffers() the way the lesson loops over "
        "named_parameters(), in a run named ex1_<something>.",
        "Keep the floating-point buffers only (buffer.is_floating_point()): num_batches_tracked "
        "is a counter. Log them before training (step 0) and every few batches after.",
        "The interesting one is features_net.0.2.running_var: compare its mean at step 0 with "
        "the last step. What variance does the batch norm actually see at its input?",
    ),
    solution="writer.add_histogram(f'buffers/{name}', buffer, step) for every floating-point "
    "buffer at steps 0, 10, ..., 40 of one epoch: the first batch norm's running_var shrinks "
    "from 1 (mean 1.00 to 0.19), because the variance of the small first convolution's outputs "
    "is well below 1 and running_var follows it.",
)
def buffers(attempt: Attempt) -> str:
    run, held = _one_run(
        attempt,
        lambda tag: "running_var" in tag or "running_mean" in tag,
        "histograms of batch-norm buffers (running_mean, running_var)",
        "e.g. ex1_buffers, with a histogram of every floating-point buffer",
        ". Weights and biases are parameters; the buffers come from net.named_buffers()",
    )
    name = attempt.name(run)
    variances = [t for t in held if "running_var" in t]
    means = [t for t in held if "running_mean" in t]
    expect(
        variances and means,
        f"run {name} has histograms of {'running_var' if variances else 'running_mean'} only "
        f"({held}): log every floating-point buffer of named_buffers(), running_mean and "
        "running_var of each batch norm",
    )
    first = next((t for t in variances if "features_net.0." in t), variances[0])
    logged = _histograms(attempt, run, first)
    steps = [e.step for e in logged]
    expect(
        len(steps) >= 3,
        f"{first!r} is logged at {len(steps)} step(s) ({steps}); log the buffers at several "
        "steps during training (e.g. every 10 batches) to see which way they move",
    )
    expect(
        len(variances) >= 2 or "features_net" not in first,
        f"only one running_var histogram ({first!r}); FastNet has two batch norms: log every "
        "floating-point buffer",
    )
    start, end = _mean(logged[0]), _mean(logged[-1])
    expect(
        end < start and end < 1,
        f"the mean of {first!r} goes from {start:.3f} (step {steps[0]}) to {end:.3f} (step "
        f"{steps[-1]}): it should shrink from 1 as the network trains. Log it before training "
        "and after some batches of training (net.train(), optimizer steps)",
    )
    return (
        f"run {name} logs histograms of {len(held)} buffers; the first batch norm's "
        f"running_var ({first}) shrinks from a mean of {start:.2f} at step {steps[0]} to "
        f"{end:.2f} at step {steps[-1]}: the variance it sees at its input is below 1."
    )


def _norm_parts(name: str, grads: list[str]) -> list[str]:
    """The ``grads/`` histograms that make up ``gradnorm/<name>``: ``grads/<name>`` itself, or
    for a layer's norm (``gradnorm/features_net.0.0``) all of that layer's parameters."""
    if f"grads/{name}" in grads:
        return [f"grads/{name}"]
    return [tag for tag in grads if tag.startswith(f"grads/{name}.")]


@exercise(
    LESSON,
    2,
    "gradient norms as scalars",
    hints=(
        "Where the lesson logs the histograms (after backward() and optimizer.step(), before the "
        "next zero_grad()), also log writer.add_scalar(f'gradnorm/{name}', ..., step) for each "
        "parameter, in a run named ex2_<something>.",
        "The value is param.grad.norm().item(), at the same step as the histogram grads/<name>.",
        "To compare, read a histogram record's sum_squares (events.accumulator(run)"
        ".Histograms(tag)[k].histogram_value) and take its square root.",
    ),
    solution="logs.log_parameters(writer, net, step) plus writer.add_scalar(f'gradnorm/{name}', "
    "param.grad.norm().item(), step) every 10 batches; sqrt(sum_squares) of every grads/<name> "
    "record equals the logged norm within 1e-4.",
)
def gradnorms(attempt: Attempt) -> str:
    runs = attempt.need_runs("gradnorm/<name> scalars next to grads/<name> histograms")
    holding = [
        r for r in runs if any(t.startswith("gradnorm/") for t in tags(r).get("scalars", []))
    ]
    if not holding:
        held = sorted({t for r in runs for t in tags(r).get("scalars", [])})
        raise Incorrect(
            f"none of the runs {attempt.where()} has a scalar gradnorm/<name>; they have "
            f"{held[:6] or 'none'}. Log writer.add_scalar(f'gradnorm/{{name}}', "
            "param.grad.norm().item(), step)"
        )
    if len(holding) > 1:
        raise Incorrect(f"{len(holding)} runs have gradnorm/ scalars; keep one")
    run = holding[0]
    name = attempt.name(run)
    norms = sorted(t for t in tags(run)["scalars"] if t.startswith("gradnorm/"))
    grads = [t for t in _histogram_tags(run) if t.startswith("grads/")]
    expect(
        grads,
        f"run {name} has gradnorm/ scalars ({len(norms)}) but no grads/<name> histograms to "
        "compare them with: log the gradients' histograms in the same run (logs.log_parameters "
        "or the lesson's loop)",
    )
    expect(
        len(norms) >= 2,
        f"run {name} has one gradnorm/ scalar ({norms[0]}); log one per layer (every parameter)",
    )
    records = {
        tag: {e.step: e.histogram_value for e in _histograms(attempt, run, tag)} for tag in grads
    }
    compared, largest = 0, 0.0
    for tag in norms:
        layer = tag.removeprefix("gradnorm/")
        parts = _norm_parts(layer, grads)
        expect(
            parts,
            f"{tag!r} has no histogram grads/{layer} to compare with (the histograms are "
            f"{grads[:4]}...): use the same <name> in both tags",
        )
        points = attempt.scalars(run, tag)
        common = [(s, v) for s, v in points if all(s in records[p] for p in parts)]
        expect(
            common,
            f"{tag!r} is at steps {[s for s, _ in points][:5]} and {parts[0]!r} at "
            f"{sorted(records[parts[0]])[:5]}: log both at the same step",
        )
        for step, value in common:
            squares = sum(records[p][step].sum_squares for p in parts)
            norm = math.sqrt(squares)
            if abs(value - norm) > 1e-3 * max(norm, 1e-12) + 1e-9:
                squared = abs(value - squares) <= 1e-3 * max(squares, 1e-12) + 1e-12
                advice = (
                    "that is the sum of squares: take its square root (param.grad.norm())"
                    if squared
                    else "log param.grad.norm() of the same gradient the histogram shows, at "
                    "the same step (not the weight's norm, not after zero_grad())"
                )
                raise Incorrect(
                    f"at step {step} {tag} is {value:.6g} but sqrt(sum_squares) of "
                    f"{' + '.join(parts)} is {norm:.6g}: {advice}"
                )
            compared += 1
            largest = max(largest, value)
    expect(
        largest > 0,
        f"every gradnorm/ scalar of {name} is 0, and so is every gradient histogram: log after "
        "backward() and before the next zero_grad(), while param.grad holds the gradient",
    )
    return (
        f"all {len(norms)} gradnorm/ scalars of {name} equal sqrt(sum_squares) of their grads/ "
        f"histograms, at {compared} (scalar, step) pairs."
    )


def _confidence_tag(attempt: Attempt, run: Path, held: list[str]) -> str | None:
    """The histogram tag of the confidence: the only one, the one naming it, or else the one
    whose values all lie where a largest probability of ten can, in [0.1, 1]."""
    if len(held) == 1:
        return held[0]
    named = [t for t in held if "confid" in t.lower()]
    if named:
        return named[0] if len(named) == 1 else None
    fits = []
    for tag in held:
        values = [e.histogram_value for e in _histograms(attempt, run, tag)]
        if values and all(v.min >= 0.1 - 1e-6 and v.max <= 1 + 1e-6 for v in values):
            fits.append(tag)
    return fits[0] if len(fits) == 1 else None


@exercise(
    LESSON,
    3,
    "how confident is the network?",
    hints=(
        "Confidence = the largest softmax probability of each image: "
        "models.predict_probs(net, val_split.images).max(dim=1).values.",
        "Log its histogram (e.g. confidence/val, in a run named ex3_<something>) once before "
        "training, at step 0, then after each of three short epochs, at step = batches seen.",
        "Compare the histogram's mean (sum / num of each record) at the four steps.",
    ),
    solution="logs.add_histogram(writer, 'confidence/val', probs.max(dim=1).values, step) at "
    "steps 0, 40, 80, 120: the mean climbs from 0.11 (about 1/10, a guess) to 0.89, and most "
    "images end with one class above 0.9.",
)
def confidence(attempt: Attempt) -> str:
    runs = attempt.need_runs("a histogram of the confidence, e.g. confidence/val")
    with_histograms = [r for r in runs if _histogram_tags(r)]
    expect(
        with_histograms,
        f"the runs {attempt.where()} have no histograms; log the confidence with "
        "writer.add_histogram (or logs.add_histogram)",
    )
    expect(
        len(with_histograms) == 1,
        f"{len(with_histograms)} runs have histograms "
        f"({[attempt.name(r) for r in with_histograms]}); keep one",
    )
    run = with_histograms[0]
    name, held = attempt.name(run), _histogram_tags(run)
    tag = _confidence_tag(attempt, run, held)
    expect(
        tag,
        f"run {name} has histograms {held[:6]}: log only the confidence, or put 'confidence' "
        "in its tag (e.g. confidence/val)",
    )
    logged = _histograms(attempt, run, tag)
    steps = [e.step for e in logged]
    expect(
        len(logged) >= 4,
        f"{tag!r} is logged at {len(logged)} step(s) ({steps}); log it before training and "
        "after each of three epochs: 4 histograms",
    )
    low = min(e.histogram_value.min for e in logged)
    high = max(e.histogram_value.max for e in logged)
    expect(
        high <= 1 + 1e-6,
        f"{tag!r} reaches {high:.3g}: the confidence is a probability, at most 1. Apply softmax "
        "to the outputs (models.predict_probs) before taking the largest",
    )
    expect(
        low >= 0.1 - 1e-3,
        f"{tag!r} goes down to {low:.3g}: the largest of 10 probabilities is at least 0.1. Log "
        "the maximum over the classes (.max(dim=1).values), not every probability",
    )
    means = [_mean(e) for e in logged]
    expect(
        means[0] < 0.5,
        f"the first histogram (step {steps[0]}) already has a mean confidence of {means[0]:.2f}: "
        "log one before training starts, when the network is still guessing (about 0.1)",
    )
    expect(
        means[-1] > means[0] + 0.2,
        f"the mean confidence goes from {means[0]:.2f} to only {means[-1]:.2f}: did the network "
        "train between the histograms?",
    )
    return (
        f"run {name} logs {tag} at steps {steps}, {logged[0].histogram_value.num:.0f} values "
        f"each: the mean climbs {' -> '.join(f'{m:.2f}' for m in means)} as the network learns."
    )
