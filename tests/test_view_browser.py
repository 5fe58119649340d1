"""`xolver view` in a real headless browser (Debian's Chromium driven by Playwright) over recorded runs.

The pages are served by the real command (`xolver view ... --port 0`) and written as static files
(`--out`); the browser checks what a person would: the pages render, the filters filter, a problem page
shows its rounds, model output is shown as text, and nothing is fetched from outside this machine.
Screenshots go to the test's directory, and to $VIEW_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from recorded import ALWAYS_WRONG, WRONG_FIRST, record_run

from xolver.bench.records import load_run, save_solves
from xolver.llm.testing import block_model_requests

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"  # Debian's package (sandbox/setup-host.sh installs it); never a downloaded browser
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
ENV = {**os.environ, "XOLVER_MEMORY": "false", "XOLVER_SANDBOX": "none"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two runs of the same 20 problems (two rounds, and one round) and a file of two saved solves."""
    root = tmp_path_factory.mktemp("runs")
    with block_model_requests(), ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever runs here
        two = thread.submit(asyncio.run, record_run(root / "team-2-rounds.jsonl")).result()
        one = thread.submit(asyncio.run, record_run(root / "team-1-round.jsonl", iterations=1)).result()
    solves = [r.solve for r in load_run(two).records[:2] if r.solve is not None]
    saved = save_solves(root / "saved.jsonl", solves)
    return [two, one, saved]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: run sandbox/setup-host.sh (apt-get install chromium)"
    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh, throwaway --user-data-dir of its own
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(runs: list[Path]) -> Iterator[str]:
    """`xolver view` serving the runs on a free loopback port; its address."""
    process = subprocess.Popen([sys.executable, "-m", "xolver.cli", "view", *map(str, runs), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)  # fmt: skip
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert "serving 3 runs on http://127.0.0.1:" in line, (line, process.stderr and process.stderr.read())
        yield line.split(" on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def page(browser: object, tmp_path: Path) -> Iterator[object]:
    """A page that records every request it makes and every dialog a script opens."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def shot(page: object, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("VIEW_SCREENSHOTS"):
        target = Path(os.environ["VIEW_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def visible_rows(page: object) -> list[str]:
    return page.locator("#problems tbody tr:visible td:first-child").all_inner_texts()  # type: ignore[attr-defined]


def test_the_index_shows_runs_side_by_side_with_plots(page: object, served: str, tmp_path: Path) -> None:
    page.goto(served)  # type: ignore[attr-defined]
    rows = page.locator("#summary tbody tr")  # type: ignore[attr-defined]
    assert rows.count() == 3
    summary = [row.split("\t") for row in rows.all_inner_texts()]
    by_run = {cells[0]: cells for cells in summary}
    assert by_run["team-2-rounds"][4:6] == ["90.0%", "18/20"], "two rounds correct q03 and q07"
    assert by_run["team-1-round"][4:6] == ["80.0%", "16/20"]
    assert by_run["saved"][5] == "0/0", "saved solves are not graded"
    for image in page.locator("section.plots img").all():  # type: ignore[attr-defined]
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "each plot is drawn and served"
    assert page.locator("#matrix tbody tr").count() == 20  # type: ignore[attr-defined]
    shot(page, tmp_path, "index.png")
    assert all(url.startswith(served) for url in page.requests), "nothing is fetched from outside"  # type: ignore[attr-defined]


def test_a_filter_shows_only_the_wrong_answers_and_survives_a_reload(page: object, served: str, tmp_path: Path) -> None:
    page.goto(f"{served}runs/team-2-rounds/index.html")  # type: ignore[attr-defined]
    assert len(visible_rows(page)) == 20
    page.get_by_role("button", name="wrong only").click()  # type: ignore[attr-defined]
    wrong = visible_rows(page)
    assert sorted(wrong) == sorted(ALWAYS_WRONG)
    assert page.locator("#shown").inner_text() == "showing 2 of 20"  # type: ignore[attr-defined]
    shot(page, tmp_path, "run-wrong-only.png")
    page.reload()  # type: ignore[attr-defined]
    assert sorted(visible_rows(page)) == sorted(ALWAYS_WRONG), "the filter is in the address"
    page.get_by_role("button", name="changed between rounds").click()  # type: ignore[attr-defined]
    assert set(WRONG_FIRST) <= set(visible_rows(page))
    page.get_by_role("button", name="errors").click()  # type: ignore[attr-defined]
    assert {"q09", "q13"} <= set(visible_rows(page)) and "q00" not in visible_rows(page)
    page.get_by_role("button", name="all").click()  # type: ignore[attr-defined]
    assert len(visible_rows(page)) == 20


def test_a_problem_page_shows_its_rounds(page: object, served: str, tmp_path: Path) -> None:
    page.goto(f"{served}runs/team-2-rounds/index.html")  # type: ignore[attr-defined]
    page.get_by_role("link", name="q03", exact=True).click()  # type: ignore[attr-defined]
    page.wait_for_url("**/q03.html")  # type: ignore[attr-defined]
    rounds = page.locator("article.round")  # type: ignore[attr-defined]
    assert rounds.count() == 2
    first, second = rounds.nth(0).inner_text(), rounds.nth(1).inner_text()
    assert "score 0.20" in first and "the product is off" in first and "✗" in first.splitlines()[0]
    assert "score 1.00" in second and "✓" in second.splitlines()[0]
    assert page.locator("#roles tbody tr").count() == 3  # type: ignore[attr-defined]
    agents = page.locator("#agents tbody tr td:first-child").all_inner_texts()  # type: ignore[attr-defined]
    assert sorted(agents) == ["judge", "planner", "solver", "verifier"], "tokens and time per agent role"
    assert "from solved problem gsm-17" in page.locator("#exemplars").inner_text()  # type: ignore[attr-defined]
    assert "Written to memory (3)" in page.locator("#memory").inner_text()  # type: ignore[attr-defined]  # solution, check program, strategy
    solver_call = page.locator("#calls details.call").nth(2)  # type: ignore[attr-defined]
    assert not solver_call.evaluate("d => d.open")
    solver_call.locator("summary").first.click()
    assert "You are the" in solver_call.inner_text(), "the messages as sent"
    reasoning = solver_call.locator("details.reasoning")
    assert not reasoning.evaluate("d => d.open"), "the reasoning stays collapsed inside an opened call"
    reasoning.locator("summary").click()
    assert "Let me think about the team's task first." in reasoning.inner_text()
    shot(page, tmp_path, "problem-rounds.png")


def test_code_runs_and_tests_are_shown(page: object, served: str, tmp_path: Path) -> None:
    page.goto(f"{served}runs/team-2-rounds/c1.html")  # type: ignore[attr-defined]
    rounds = page.locator("#rounds").inner_text()  # type: ignore[attr-defined]
    assert "1 of 1 tests passed" in rounds and "All 1 tests pass." in rounds
    runs = page.locator("#runs details.run")  # type: ignore[attr-defined]
    assert runs.count() >= 3
    runs.first.locator("summary").click()
    assert "print(sum(map(int, input().split())))" in runs.first.inner_text()
    shot(page, tmp_path, "problem-code.png")


def test_model_output_is_text_not_markup(page: object, served: str) -> None:
    page.goto(f"{served}runs/team-2-rounds/q04.html")  # type: ignore[attr-defined]
    page.locator("#rounds details summary").first.click()  # type: ignore[attr-defined]
    assert "<script>alert('x')</script>" in page.locator("#rounds").inner_text()  # type: ignore[attr-defined]
    assert page.locator("#rounds b").count() == 0 and page.dialogs == []  # type: ignore[attr-defined]


def test_the_static_pages_work_from_disk(page: object, runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "xolver.cli", "view", *map(str, runs), "--out", str(out)],
                          capture_output=True, text=True, env=ENV, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page.goto((out / "runs" / "team-1-round" / "index.html").as_uri() + "#wrong")  # type: ignore[attr-defined]
    assert sorted(visible_rows(page)) == sorted(ALWAYS_WRONG | WRONG_FIRST), "one round never corrects q03, q07"
    page.get_by_role("link", name="q07", exact=True).click()  # type: ignore[attr-defined]
    assert page.locator("article.round").count() == 1  # type: ignore[attr-defined]
    page.goto((out / "runs" / "saved" / "index.html").as_uri())  # type: ignore[attr-defined]
    assert len(visible_rows(page)) == 2 and "saved solves" in page.locator("main").inner_text()  # type: ignore[attr-defined]
    shot(page, tmp_path, "static-saved-solves.png")
    assert all(url.startswith("file://") for url in page.requests)  # type: ignore[attr-defined]
