"""The README's library example runs as written (a doctest, from the repository root), and the README
stays a front door: short, its two commands first, everything else one click away in docs/."""

import doctest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0


FIRST_LINES = ("bash scripts/setup.sh && .venv/bin/mixdown mix data/examples/rock-8beat --out mix.wav "
               "--params mix.json\nbash scripts/test.sh\n")
#: the README's former sections and the docs page each moved to (one click from the README)
MOVED = {"docs/console.md": ["# The console and its parameter files", "**The reverb.**", "**Parameter files**",
                             "## Console and parameter files from Python (lower level)"],
         "docs/commands.md": ["## Rendering a parameter file: `mixdown render`", "## Mixing a session: `mixdown mix`",
                              "## Taking the settings into a DAW: `mixdown export`"],
         "docs/studio.md": ["# Finishing the mix by ear: the studio", "* **Meters**", "* **Controls as in a DAW**"],
         "docs/training.md": ["## Data and training", "## Training on GPUs"],
         "docs/contract.md": ["# What the commands read and write, and their exit codes", "| exit code | meaning |"],
         "docs/results.md": ["# Results", "## On human-mixed songs", "## Reference mode", "## Benchmarks"],
         "docs/development.md": ["# Development", "## Package layout"]}


def test_readme_is_a_front_door():
    """Under 200 lines, the two commands first (CI runs the second), a picture, a Results section,
    every moved section on a docs page the README links to, and every relative link resolving."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    assert text.startswith("# mixdown\n\n```bash\n" + FIRST_LINES + "```\n")
    assert "![mixdown studio" in text and "## Results" in text and "(docs/results.md)" in text
    for page, headings in MOVED.items():
        assert f"]({page})" in text, page
        body = (ROOT / page).read_text(encoding="utf-8")
        for h in headings:
            assert h in body, (page, h)
        assert "](../README.md)" in body
    for path in ["README.md", *MOVED]:
        base = (ROOT / path).parent
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", (ROOT / path).read_text(encoding="utf-8")):
            resolved = (base / target).resolve()
            if not re.match(r"[a-z]+:", target) and resolved.is_relative_to(ROOT):  # shared/ lies outside
                assert resolved.exists(), (path, target)
