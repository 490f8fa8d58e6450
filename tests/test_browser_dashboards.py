"""Every dashboard the course teaches, drawn by headless Chromium over the logs of the lesson
that teaches it: what is drawn (SVG line points, histogram slices, graph nodes, images, table
rows, WebGL pixels) must match what TensorBoard serves for those logs, and the same dashboard
over an empty log directory must draw none of it.

Runs and tags are discovered through TensorBoard's JSON API, never hard-coded: only the lesson
folder names are relied on. One Chromium for the module (with a software WebGL for the
Projector), one TensorBoard server per log directory, all stopped at the module's end.
Screenshots of every dashboard are saved in each test's temporary directory.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tbviz import board

pytestmark = pytest.mark.after_lessons

# The Projector draws with WebGL: a software renderer, not --disable-gpu.
WEBGL_FLAGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader")
WAIT_S = 30.0  # the longest any dashboard may take to draw (it takes a few seconds)


@dataclass(frozen=True)
class Site:
    """One TensorBoard server and its JSON API."""

    server: board.Board

    def url(self, dashboard: str, **state: str) -> str:
        """The page of ``dashboard`` (``#scalars&tagFilter=...``: the legacy dashboards keep
        their state after the ``#``). Time Series charts draw as SVG (``forceSVG``)."""
        fragment = "".join(f"&{k}={urllib.parse.quote(v, safe='')}" for k, v in state.items())
        return f"http://127.0.0.1:{self.server.port}/?forceSVG=true#{dashboard}{fragment}"

    def get(self, path: str, **query: str):
        url = f"http://127.0.0.1:{self.server.port}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
        return json.loads(body) if path.startswith("/data/") and body[:1] in b"[{" else body

    def post(self, path: str, body: dict):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.server.port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


SETTINGS_SCRIPT = "localStorage.setItem('_tb_global_settings', '{\"paginationSize\": 1000}')"


@pytest.fixture(scope="module")
def browser(launch_chromium):
    context = launch_chromium(*WEBGL_FLAGS)
    # Settings -> "Pagination limit": every chart of a category on one page (default 12).
    context.add_init_script(SETTINGS_SCRIPT)
    return context


# The lessons whose logs these checks read (each test names its own).
LESSONS = [
    "00_setup_and_first_run",
    "01_model_graph",
    "02_scalars",
    "03_histograms",
    "04_images",
    "05_figures",
    "06_embeddings",
    "07_pr_curves",
    "08_overfitting",
    "10_hparams",
]


def has_logs(logdir: Path) -> bool:
    return any(logdir.glob("**/events.out.tfevents.*"))


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """``sites("03_histograms")``: TensorBoard over that lesson's logs; ``sites(None)``: over an
    empty log directory. One server per directory, shared by the module's tests; all start at
    once in the background (each takes a second or two) and all stop at the module's end."""
    root = Path(os.environ["TBVIZ_LOGDIR"])
    logdirs = {None: tmp_path_factory.mktemp("empty-logdir")}
    logdirs |= {lesson: root / lesson for lesson in LESSONS if has_logs(root / lesson)}
    ports: set[int] = set()
    while len(ports) < len(logdirs):  # distinct ports, so that no two servers race for one
        ports.add(board.free_port())
    with ThreadPoolExecutor(max_workers=len(logdirs)) as pool:
        starting = {
            lesson: pool.submit(board.start, logdir, port=port)
            for (lesson, logdir), port in zip(logdirs.items(), sorted(ports), strict=True)
        }

        def site(lesson: str | None) -> Site:
            assert lesson in starting, (
                f"no TensorBoard logs in {root / str(lesson)}: run notebooks/{lesson}.ipynb "
                f"first (make test runs the notebooks before these checks)"
            )
            return Site(starting[lesson].result())

        yield site
        servers = [future.result() for future in starting.values() if not future.exception()]
        for server in servers:
            if not server.reused:
                assert board.stop(server.pid)


@pytest.fixture(scope="module")
def pages(browser):
    """``pages(site)``: one page per TensorBoard server, reused by the tests on that server
    (switching dashboards after the ``#`` is quicker than loading TensorBoard again)."""
    opened: dict[int, object] = {}

    def page(site: Site):
        if site.server.port not in opened:
            opened[site.server.port] = browser.new_page()
        return opened[site.server.port]

    yield page
    for page_ in opened.values():
        page_.close()


@pytest.fixture
def empty_page(pages, sites):
    return pages(sites(None))


def until(page, measure: Callable[[], object], done: Callable[[object], bool], timeout=WAIT_S):
    """Measure again until ``done`` says so or ``timeout`` passes; return the last measure.
    Waits on the page (not ``time.sleep``), so that playwright keeps up with the page."""
    deadline = time.monotonic() + timeout
    while True:
        value = measure()
        if done(value) or time.monotonic() > deadline:
            return value
        page.wait_for_timeout(250)


def plugin_active(page, plugin: str) -> bool:
    """Whether TensorBoard lists ``plugin``'s dashboard as active (it found data for it): the
    dashboard's tab is enabled; without data it is greyed out under "Inactive"."""
    tab = page.locator(f'[role=tab]:has([data-plugin-id="{plugin}"])')
    tab.wait_for(state="attached", timeout=WAIT_S * 1000)
    return tab.get_attribute("aria-disabled") == "false"


def shows_no_data(page, sites, plugin: str, shot: Path, message: str | None = None, **state):
    """Switch the empty directory's page to ``plugin``'s dashboard; return whether it shows its
    "no data" state: the tab inactive, and ``message`` (e.g. "No scalar data") shown."""
    page.goto(sites(None).url(plugin, **state))
    inactive = not plugin_active(page, plugin)
    shown = True
    if message:
        notes = page.get_by_text(message)
        shown = until(page, lambda: any(note.is_visible() for note in notes.all()), bool)
    page.screenshot(path=str(shot))
    return inactive and shown


def vertices(path_d: str | None) -> int:
    """Points of an SVG line path ``M x,y L x,y ...``."""
    return len(re.findall(r"[ML]", path_d or ""))


D_OF_ALL = "paths => paths.map(p => p.getAttribute('d'))"


def line_vertices(scope, selector: str) -> list[int]:
    """Vertices of every SVG path ``selector`` under ``scope`` (a page or a locator)."""
    return [vertices(d) for d in scope.locator(selector).evaluate_all(D_OF_ALL)]


def exact(tag: str) -> str:
    """A regular expression (TensorBoard's tag filter) matching exactly ``tag``."""
    return "^" + re.escape(tag) + "$"


def series_lengths(site: Site) -> dict[tuple[str, str], int]:
    """{(run, tag): number of scalar points served} for every scalar series."""
    return {
        (run, tag): len(site.get("/data/plugin/scalars/scalars", run=run, tag=tag))
        for run, tags in site.get("/data/plugin/scalars/tags").items()
        for tag in tags
    }


def longest(lengths: dict[tuple[str, str], int], lesson: str, least: int = 3):
    """The (run, tag) with the most points, and how many; fails under ``least`` points."""
    (run, tag), points = max(lengths.items(), key=lambda item: item[1], default=((None, None), 0))
    assert points >= least, f"{lesson}'s longest series ({run}, {tag}) has {points} points"
    return run, tag, points


def runs_by_tag(site: Site, plugin: str) -> dict[str, list[str]]:
    """{tag: the runs that logged it} for one of TensorBoard's plugins."""
    found: dict[str, list[str]] = {}
    for run, tags in site.get(f"/data/plugin/{plugin}/tags").items():
        for tag in tags:
            found.setdefault(tag, []).append(run)
    return found


def widest(site: Site, plugin: str, lesson: str) -> tuple[str, dict[str, int]]:
    """The tag logged by the most runs (then: the first by name), and {run: steps logged}."""
    runs = runs_by_tag(site, plugin)
    assert runs, f"{lesson} logged no {plugin}"
    tag = min(runs, key=lambda t: (-len(runs[t]), t))
    route = f"/data/plugin/{plugin}/{plugin}"
    steps = {run: len(site.get(route, run=run, tag=tag)) for run in runs[tag]}
    assert min(steps.values()) >= 2, f"{lesson}: {tag} has too few steps: {steps}"
    return tag, steps


def ignore_outliers(page, on: bool) -> None:
    """The legacy scalar charts' "Ignore outliers in chart scaling": on, lines leave the chart
    (and lose points) where a value is an outlier; off, every point is drawn."""
    box = page.locator("paper-checkbox", has_text="Ignore outliers in chart scaling")
    box.wait_for(timeout=WAIT_S * 1000)
    if (box.get_attribute("aria-checked") == "true") != on:
        box.click()


def find_card(page, element: str, **properties: str):
    """The first ``element`` (``tf-histogram-loader``, ``tf-pr-curve-card``, ...) whose
    properties (``run``, ``tag``, ``title``) are ``properties``; None while there is none."""
    cards = page.locator(element)
    keys = cards.evaluate_all(
        "(cards, names) => cards.map(c => JSON.stringify(names.map(n => c[n])))",
        list(properties),
    )
    key = json.dumps(list(properties.values()), separators=(",", ":"))
    return cards.nth(keys.index(key)) if key in keys else None


def drawn_pixels(png: bytes) -> int:
    """Pixels that differ clearly from the picture's most common colour (its background)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int32).reshape(-1, 3)
    colours, counts = np.unique(rgb @ np.array([1 << 16, 1 << 8, 1]), return_counts=True)
    packed = colours[counts.argmax()]
    background = np.array([packed >> 16, (packed >> 8) & 255, packed & 255])
    return int((np.abs(rgb - background).max(axis=1) > 40).sum())


# --- Scalars and Time Series (lessons 00 and 02) ------------------------------------------


def test_scalars_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 02's longest scalar series is drawn as a line with one vertex per logged point,
    one line per run that logged the tag; an empty log directory draws no line."""
    site = sites("02_scalars")
    page = pages(site)
    lengths = series_lengths(site)
    run, tag, points = longest(lengths, "lesson 02", least=10)
    page.goto(site.url("scalars", tagFilter=exact(tag)))
    assert plugin_active(page, "scalars")
    ignore_outliers(page, on=False)
    chart = until(page, lambda: find_card(page, "tf-scalar-card", tag=tag), bool)
    assert chart is not None, f"no chart for {tag}"
    drawn = until(page, lambda: line_vertices(chart, "path.line"), lambda v: points in v)
    page.screenshot(path=str(tmp_path / "scalars_lesson.png"))
    assert max(drawn, default=0) == points, f"{run}/{tag}: {points} points, lines {drawn}"
    runs_with_lines = {r for (r, t), n in lengths.items() if t == tag and n >= 2}
    lines = [v for v in drawn if v >= 2]
    assert len(lines) >= len(runs_with_lines), f"{tag}: runs {sorted(runs_with_lines)}, {drawn}"
    assert page.get_by_text(tag, exact=True).first.is_visible()

    assert shows_no_data(
        empty_page, sites, "scalars", tmp_path / "scalars_empty.png", "No scalar data"
    )
    assert line_vertices(empty_page, "vz-line-chart2 path.line") == []


def test_time_series_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 00's longest scalar series in the Time Series dashboard (drawn as SVG): its card
    draws a line with one vertex per logged point; an empty log directory shows no card."""
    site = sites("00_setup_and_first_run")
    page = pages(site)
    run, tag, points = longest(series_lengths(site), "lesson 00", least=10)
    page.goto(site.url("timeseries"))
    assert plugin_active(page, "timeseries")
    page.locator('input[placeholder="Filter tags (regex)"]').fill(exact(tag))
    card = page.locator("scalar-card").filter(has_text=tag).first
    drawn = until(page, lambda: line_vertices(card, ".series-view svg path"), lambda v: points in v)
    page.keyboard.press("Escape")  # close the filter's suggestions
    page.screenshot(path=str(tmp_path / "timeseries_lesson.png"))
    assert max(drawn, default=0) == points, f"{run}/{tag}: {points} points, lines {drawn}"
    assert card.get_by_text(run, exact=True).first.is_visible(), f"{run} not in the card's table"

    assert shows_no_data(empty_page, sites, "timeseries", tmp_path / "timeseries_empty.png")
    assert empty_page.locator("scalar-card").count() == 0


# --- Graphs and Text (lesson 01) ----------------------------------------------------------

NODE_NAMES = "nodes => nodes.map(n => n.getAttribute('data-name'))"


def test_graphs_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 01's model graph: the nodes drawn are the top-level scopes of the graph served
    for the run shown (input, output, the model); an empty log directory draws no node."""
    site = sites("01_model_graph")
    page = pages(site)
    info = site.get("/data/plugin/graphs/info")
    graph_runs = sorted(run for run, item in info.items() if item.get("run_graph"))
    assert graph_runs, "lesson 01 logged no graph"
    page.goto(site.url("graphs"))
    assert plugin_active(page, "graphs")
    drawn = until(page, lambda: page.locator("g.node").evaluate_all(NODE_NAMES), bool)
    page.screenshot(path=str(tmp_path / "graphs_lesson.png"))
    run = page.locator(".run-dropdown").first.evaluate("menu => menu.value")
    assert run in graph_runs, f"the dashboard shows run {run!r}, graphs are in {graph_runs}"
    graph = site.get("/data/plugin/graphs/graph", run=run, conceptual="false").decode()
    scopes = {name.split("/")[0] for name in re.findall(r'^  name: "([^"]+)"', graph, re.M)}
    assert len(scopes) >= 3, f"{run}: top-level scopes {scopes}"
    assert sorted(drawn) == sorted(scopes), f"{run}: drew {drawn}, graph has {sorted(scopes)}"

    message = "No graph definition files were found."
    assert shows_no_data(empty_page, sites, "graphs", tmp_path / "graphs_empty.png", message)
    assert empty_page.locator("g.node").count() == 0


def plain_lines(markup: str) -> list[str]:
    """The lines of text an HTML fragment shows, without tags."""
    return [line.strip() for line in html.unescape(re.sub(r"<[^>]+>", "", markup)).splitlines()]


def test_text_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 01's text summaries: every run/tag has a card that shows the text served (a line
    with the model's name); an empty log directory shows no card."""
    site = sites("01_model_graph")
    page = pages(site)
    pairs = [(run, tag) for run, tags in site.get("/data/plugin/text/tags").items() for tag in tags]
    assert pairs, "lesson 01 logged no text"
    page.goto(site.url("text"))
    assert plugin_active(page, "text")
    for run, tag in pairs:
        served = site.get("/data/plugin/text/text", run=run, tag=tag)[-1]["text"]
        line = next(ln for ln in plain_lines(served) if re.search(r"[A-Za-z]{3}", ln))
        card = until(
            page, lambda run=run, tag=tag: find_card(page, "tf-text-loader", run=run, tag=tag), bool
        )
        assert card is not None, f"no text card for {run}/{tag}"
        shown = until(page, lambda card=card, line=line: card.get_by_text(line).count(), bool)
        assert shown, f"{run}/{tag}: the card does not show {line!r}"
        assert card.get_by_text(run, exact=True).first.is_visible(), f"{run}: no run badge"
    page.screenshot(path=str(tmp_path / "text_lesson.png"))

    assert shows_no_data(
        empty_page, sites, "text", tmp_path / "text_empty.png", "No text data was found."
    )
    assert empty_page.locator("tf-text-loader").count() == 0


# --- Histograms and Distributions (lesson 03) ---------------------------------------------


def charts_per_run(page, site, plugin: str, loader: str):
    """Open ``plugin`` on the tag most runs of lesson 03 logged; yield (run, tag, logged steps,
    its chart) for each of those runs."""
    tag, runs = widest(site, plugin, "lesson 03")
    page.goto(site.url(plugin, tagFilter=exact(tag)))
    assert plugin_active(page, plugin)
    for run, steps in runs.items():
        card = until(page, lambda run=run: find_card(page, loader, run=run, tag=tag), bool)
        assert card is not None, f"no {plugin} chart for {run}/{tag}"
        yield run, tag, steps, card


def test_histograms_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 03's histograms of the tag most runs logged: each run's chart draws one histogram
    slice per logged step; an empty log directory draws none."""
    site = sites("03_histograms")
    page = pages(site)
    for run, tag, steps, card in charts_per_run(page, site, "histograms", "tf-histogram-loader"):
        drawn = until(
            page,
            lambda card=card: card.locator("g.histogram").count(),
            lambda n, steps=steps: n >= steps,
        )
        assert drawn == steps, f"{run}/{tag}: {steps} steps logged, {drawn} slices drawn"
        outlines = line_vertices(card, "path.outline")
        assert len(outlines) == steps and min(outlines) >= 3, f"{run}/{tag}: {outlines}"
    page.screenshot(path=str(tmp_path / "histograms_lesson.png"))

    message = "No histogram data was found."
    assert shows_no_data(
        empty_page, sites, "histograms", tmp_path / "histograms_empty.png", message
    )
    assert empty_page.locator("g.histogram").count() == 0


def test_distributions_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 03's distributions of the tag most runs logged: each run's chart draws the
    percentile bands with one vertex per logged step; an empty log directory draws none."""
    site = sites("03_histograms")
    page = pages(site)
    loader = "tf-distribution-loader"
    for run, tag, steps, card in charts_per_run(page, site, "distributions", loader):
        lines = until(page, lambda card=card: line_vertices(card, "path.line"), bool)
        assert lines and set(lines) == {steps}, f"{run}/{tag}: {steps} steps, lines {lines}"
        areas = line_vertices(card, "path.area")
        assert areas and set(areas) == {2 * steps}, f"{run}/{tag}: bands {areas}"
    page.screenshot(path=str(tmp_path / "distributions_lesson.png"))

    message = "No distribution data was found."
    assert shows_no_data(
        empty_page, sites, "distributions", tmp_path / "distributions_empty.png", message
    )
    assert empty_page.locator("tf-distribution-loader path.line").count() == 0


# --- Images (lessons 04 and 05) -----------------------------------------------------------

NATURAL_SIZE = "img => img.complete ? [img.naturalWidth, img.naturalHeight] : [0, 0]"


@pytest.mark.parametrize("lesson", ["04_images", "05_figures"])
def test_images_dashboard(pages, empty_page, sites, tmp_path, lesson):
    """Every image tag of the lesson is drawn: its card's image loaded at the size of the PNG
    TensorBoard serves for it; an empty log directory shows no image."""
    site = sites(lesson)
    page = pages(site)
    tags = site.get("/data/plugin/images/tags")
    pairs = [(run, tag) for run, run_tags in tags.items() for tag in run_tags]
    assert pairs, f"{lesson} logged no image"
    page.goto(site.url("images", tagFilter="."))  # one category holding every tag, open
    assert plugin_active(page, "images")
    for run, tag in pairs:
        query = site.get("/data/plugin/images/images", run=run, tag=tag)[-1]["query"]
        png = Image.open(io.BytesIO(site.get("/data/plugin/images/individualImage?" + query)))
        card = until(
            page,
            lambda run=run, tag=tag: find_card(page, "tf-image-loader", run=run, tag=tag),
            bool,
        )
        assert card is not None, f"no image card for {run}/{tag}"
        size = until(
            page, lambda card=card: card.locator("img").first.evaluate(NATURAL_SIZE), lambda s: s[0]
        )
        assert tuple(size) == png.size, f"{run}/{tag}: drawn {size}, served {png.size}"
    page.screenshot(path=str(tmp_path / "images_lesson.png"))

    assert shows_no_data(
        empty_page, sites, "images", tmp_path / "images_empty.png", "No image data"
    )
    assert empty_page.locator("tf-image-loader img").count() == 0


# --- Projector (lesson 06) ----------------------------------------------------------------


def projector_frame(page):
    """The Projector runs in a frame of its own, inside the plugin's frame."""
    return page.frame_locator('iframe[src*="projector"]').frame_locator("iframe")


def test_projector_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 06's embedding in the Projector: it counts the points logged, and its WebGL
    canvas draws them (far more pixels than the axes alone); over an empty log directory it
    finds no checkpoint and draws no canvas."""
    site = sites("06_embeddings")
    page = pages(site)
    runs = site.get("/data/plugin/projector/runs")
    assert runs, "lesson 06 logged no embedding"
    # No plugin_active check: the Projector finds its data in a background thread, so its tab
    # may still be listed as inactive while it draws the lesson's points.
    page.goto(site.url("projector"))
    frame = projector_frame(page)
    status = frame.get_by_text(re.compile(r"Points: \d+"))
    panel = frame.locator("vz-projector-data-panel")

    def shown():  # the run and tensor shown, and "Points: N" (0 until they are loaded)
        if not panel.count():
            return None, None, 0
        run, tensor = panel.evaluate("panel => [panel.selectedRun, panel.selectedTensor]")
        count = re.search(r"Points: (\d+)", status.first.inner_text()) if status.count() else None
        return run, tensor, int(count[1]) if count else 0

    run, tensor, count = until(page, shown, lambda v: v[0] and v[1] and v[2] > 0)
    assert run in runs, f"the Projector shows run {run!r}, runs are {runs}"
    embeddings = site.get("/data/plugin/projector/info", run=run)["embeddings"]
    points = next(e["tensorShape"][0] for e in embeddings if e["tensorName"] == tensor)
    assert count == points, f"{run}/{tensor}: {points} points, the Projector says {count}"
    assert frame.get_by_text(f"{len(runs)} runs found").is_visible()
    # The axes and the buttons over the canvas cover some 3,000 pixels; 100 point sprites
    # some 30,000; a point drawn as a dot at least 10.
    least = 5_000 + 10 * points
    canvas = frame.locator("#scatter canvas").first
    pixels = until(page, lambda: drawn_pixels(canvas.screenshot()), lambda n: n >= least)
    page.screenshot(path=str(tmp_path / "projector_lesson.png"))
    assert pixels >= least, f"{points} points drew only {pixels} pixels (want {least})"

    assert shows_no_data(empty_page, sites, "projector", tmp_path / "projector_empty.png")
    frame = projector_frame(empty_page)
    message = frame.get_by_text("No checkpoint was found.")
    message.wait_for(timeout=WAIT_S * 1000)
    empty_page.screenshot(path=str(tmp_path / "projector_empty.png"))
    assert frame.locator("#scatter canvas").count() == 0


# --- PR Curves (lesson 07) ----------------------------------------------------------------


def test_pr_curves_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 07's PR curves: one chart per tag, drawing one curve per run that logged it,
    each with a vertex for (nearly) every threshold; an empty log directory draws none."""
    site = sites("07_pr_curves")
    page = pages(site)
    curves_by_tag = runs_by_tag(site, "pr_curves")
    assert curves_by_tag, "lesson 07 logged no PR curve"
    page.goto(site.url("pr_curves"))
    assert plugin_active(page, "pr_curves")
    for tag, runs in curves_by_tag.items():
        chart = until(page, lambda tag=tag: find_card(page, "tf-pr-curve-card", tag=tag), bool)
        assert chart is not None, f"no PR curve chart for {tag}"
        curves = until(
            page,
            lambda chart=chart: [v for v in line_vertices(chart, "path.line") if v >= 2],
            lambda v, runs=runs: len(v) >= len(runs),
        )
        assert len(curves) == len(runs), f"{tag}: runs {runs}, curves {curves}"
        entry = site.get("/data/plugin/pr_curves/pr_curves", run=runs[0], tag=tag)[runs[0]][-1]
        thresholds = len(entry["precision"])
        assert all(thresholds // 2 <= v <= thresholds for v in curves), (tag, curves, thresholds)
    page.screenshot(path=str(tmp_path / "pr_curves_lesson.png"))

    assert shows_no_data(empty_page, sites, "pr_curves", tmp_path / "pr_curves_empty.png")
    assert empty_page.locator("tf-pr-curve-card").count() == 0


# --- Custom Scalars (lesson 08) -----------------------------------------------------------

CUSTOM_CHARTS = "tf-custom-scalar-multi-line-chart-card, tf-custom-scalar-margin-chart-card"


def test_custom_scalars_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 08's custom layout: every chart of it is drawn, with a line per run and tag its
    regular expressions match and one vertex per logged point; an empty directory draws none."""
    site = sites("08_overfitting")
    page = pages(site)
    layout = site.get("/data/plugin/custom_scalars/layout")
    charts = [chart for category in layout.get("category", []) for chart in category["chart"]]
    assert charts, "lesson 08 logged no custom scalars layout"
    lengths = series_lengths(site)
    page.goto(site.url("custom_scalars"))
    assert plugin_active(page, "custom_scalars")
    ignore_outliers(page, on=False)
    for chart in charts:
        if "multiline" in chart:
            patterns = chart["multiline"]["tag"]
        else:
            patterns = [series["value"] for series in chart["margin"]["series"]]
        series = {k: n for k, n in lengths.items() if any(re.match(p, k[1]) for p in patterns)}
        assert series, f"chart {chart['title']!r}: no scalars match {patterns}"
        points = max(series.values())
        drawn_chart = until(
            page, lambda chart=chart: find_card(page, CUSTOM_CHARTS, title=chart["title"]), bool
        )
        assert drawn_chart is not None, f"chart {chart['title']!r} not drawn"
        lines = until(
            page,
            lambda c=drawn_chart: line_vertices(c, "path.line"),
            lambda v, points=points: points in v,
        )
        assert max(lines, default=0) == points, f"{chart['title']}: {points} points, {lines}"
        long_series = [k for k, n in series.items() if n >= 2]
        assert len([v for v in lines if v >= 2]) >= len(long_series), (chart["title"], lines)
    page.screenshot(path=str(tmp_path / "custom_scalars_lesson.png"))

    assert shows_no_data(empty_page, sites, "custom_scalars", tmp_path / "custom_empty.png")
    assert empty_page.locator(CUSTOM_CHARTS).count() == 0


# --- HParams (lesson 10) ------------------------------------------------------------------


def test_hparams_dashboard(pages, empty_page, sites, tmp_path):
    """Lesson 10's trials: the HParams table has one row per trial TensorBoard serves, named
    after it; an empty log directory shows "No hparams data was found." and no row."""
    site = sites("10_hparams")
    page = pages(site)
    statuses = [f"STATUS_{s}" for s in ("UNKNOWN", "SUCCESS", "FAILURE", "RUNNING")]
    request = {"experimentName": "", "allowedStatuses": statuses, "colParams": []}
    request |= {"startIndex": 0, "sliceSize": 1000}
    groups = site.post("/data/plugin/hparams/session_groups", request)["sessionGroups"]
    trials = sorted(group["name"] for group in groups)
    assert len(trials) >= 2, f"lesson 10 logged {len(trials)} trials"
    page.goto(site.url("hparams"))
    assert plugin_active(page, "hparams")
    cells = page.locator("tf-hparams-table-view vaadin-grid-cell-content")
    rows = until(
        page,
        lambda: sorted(t.strip() for t in cells.all_inner_texts() if t.strip() in trials),
        lambda r: r == trials,
    )
    page.screenshot(path=str(tmp_path / "hparams_lesson.png"))
    assert rows == trials, f"table rows {rows}, trials {trials}"
    assert page.get_by_text(f"Number of matching session groups: {len(trials)}").is_visible()

    message = "No hparams data was found."
    assert shows_no_data(empty_page, sites, "hparams", tmp_path / "hparams_empty.png", message)
    assert empty_page.locator("vaadin-grid-cell-content").count() == 0
