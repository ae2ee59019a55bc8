"""Ranking on what real bug reports look like: filled-in issue templates, environment dumps,
tracebacks through site-packages, quoted error messages, snippets calling the package's API.

The project is small but shaped like the ones users open: a package with a long central
module, an issue template, a changelog, example code under docs/, a ``show_versions``.
"""

from __future__ import annotations

import pytest

from agent.index.index import CodeIndex
from agent.index.request import read_request
from agent.index.store import Store

from helpers import committed

FRAME_METHODS = "\n".join(
    f"    def {name}(self, *args, **kwargs):\n"
    f'        """{name.title()} the frame\'s data along time; see the columns and values."""\n'
    f"        return self._apply('{name}', args, kwargs)\n"
    for name in (
        "where", "interpolate", "resample", "rolling", "shift", "fill", "drop", "select",
        "merge", "align", "reindex", "rename", "copy", "load", "plot", "describe",
    )
)  # fmt: skip

PROJECT = {
    "skyline/__init__.py": (
        "from skyline.core.compute import interpolate, where\n"
        "from skyline.core.frame import Frame\n"
        "from skyline.util.print_versions import show_versions\n"
    ),
    "skyline/core/__init__.py": "",
    "skyline/core/compute.py": '''"""Functions over frames and series."""


def where(cond, x, y):
    """Pick x where cond holds, else y."""
    return x if cond else y


def interpolate(values, gaps):
    """Fill the gaps of values linearly."""
    return [v for v in values if v not in gaps]
''',
    "skyline/core/frame.py": '''"""The Frame: time-indexed columns of values."""


class Frame:
    """Columns of values along time. Every operation returns a new frame."""

    def __init__(self, data, time, columns):
        self.data = data
        self.time = time
        self.columns = columns

    def _apply(self, name, args, kwargs):
        return Frame(self.data, self.time, self.columns)

'''
    + FRAME_METHODS,
    "skyline/core/series.py": '''"""A single column of values along time."""


class Series:
    def where(self, cond, other):
        return self if cond else other

    def values(self):
        return []
''',
    "skyline/core/checks.py": '''"""Validating frames before use."""


def check_columns(frame, required):
    if list(frame.columns[: len(required)]) != list(required):
        raise ValueError(
            f"{type(frame).__name__} object is invalid - expected '{required[0]}' "
            f"as the first column but found '{frame.columns[0]}'"
        )
''',
    "skyline/core/columns.py": '''"""Column helpers: the first, expected and invalid columns."""


def first_column(frame):
    """The first column of the frame object; the expected time column is usually first."""
    columns = frame.columns
    return columns[0] if columns else None


def invalid_columns(frame, expected):
    """Columns of the frame object that are invalid: not among the expected ones."""
    return [column for column in frame.columns if column not in expected]


def expected_columns(frame):
    """The columns a frame object is expected to have: time first, then the values."""
    return ["time", *frame.columns[1:]]
''',
    "skyline/io/__init__.py": "",
    "skyline/io/decoder.py": '''"""Decoding stored frames."""


def decode_frame(payload):
    return payload
''',
    "skyline/util/__init__.py": "",
    "skyline/util/print_versions.py": '''"""What users paste into bug reports."""

import locale
import platform
import sys


def show_versions():
    """Print the versions of python, numpy, pandas, the OS, machine, processor, LANG, LC_ALL."""
    print("INSTALLED VERSIONS")
    print(f"python: {sys.version}")
    print(f"python-bits: 64")
    print(f"OS: {platform.system()}")
    print(f"OS-release: {platform.release()}")
    print(f"machine: {platform.machine()}")
    print(f"processor: {platform.processor()}")
    print(f"byteorder: {sys.byteorder}")
    print(f"LC_ALL: None")
    print(f"LANG: {locale.getlocale()}")
    for name in ("numpy", "pandas", "scipy", "netCDF4", "dask", "distributed", "setuptools"):
        print(f"{name}: None")
''',
    ".github/ISSUE_TEMPLATE/bug_report.md": """---
name: Bug report
about: Something in skyline does not work
---

### What happened?

### What did you expect to happen?

### Minimal Complete Verifiable Example

```python
import skyline
```

### MVCE confirmation

- [ ] Minimal example — the example is as focused as reasonably possible to demonstrate the
  underlying issue in skyline.
- [ ] Complete example — the example is self-contained, including all data and the text of
  any traceback.
- [ ] New issue — a search of GitHub Issues suggests this is not a duplicate.

### Relevant log output

### Environment

<!-- Paste the output here skyline.show_versions() here -->
""",
    "CHANGES.rst": """Changes
=======

0.3 (unreleased)
----------------
- ``Frame.interpolate`` no longer skips gaps at the start of a frame.
- ``where`` keeps the frame's attributes; ``Frame.where`` too.
- ``Frame.resample`` keeps the last row of each frame.
- The first column of a frame is checked; invalid columns raise an error.
""",
    "docs/examples/plot_frames.py": '''"""Example: interpolate the gaps of a frame, then plot it."""

import skyline as sk

frame = sk.Frame(data=[[1.0, None, 3.0]], time=[0, 1, 2], columns=["time", "flux"])
frame = frame.interpolate(gaps=True)
frame = frame.resample("1h").where(frame.data > 0)
frame.plot()
''',
    "tests/test_frame.py": """from skyline.core.frame import Frame


def test_interpolate_fills_gaps():
    frame = Frame([[1.0, None]], [0, 1], ["time", "flux"])
    assert frame.interpolate(gaps=True).columns == ["time", "flux"]
""",
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> CodeIndex:
    base = tmp_path_factory.mktemp("reports")
    root = committed(base / "skyline", PROJECT, "skyline")
    built = CodeIndex(root, Store(base / "index.sqlite"))
    built.refresh()
    return built


def order(index: CodeIndex, request: str) -> list[str]:
    return [path for path, _ in index.ranking(request)]


ENVIRONMENT = """
### Environment

<details>

INSTALLED VERSIONS
------------------
commit: None
python: 3.10.4 | packaged by conda-forge | (main, Mar 24 2022, 17:43:32) [Clang 12.0.1 ]
python-bits: 64
OS: Darwin
OS-release: 21.4.0
machine: x86_64
processor: i386
byteorder: little
LC_ALL: None
LANG: None
skyline: 0.2.1
pandas: 1.4.2
numpy: 1.22.3
scipy: 1.8.0
netCDF4: None
dask: 2022.05.0
distributed: 2022.5.0
setuptools: 62.2.0

</details>
"""

TEMPLATE_FILLED = (
    """`Frame.resample` drops the last row

### What happened?

Resampling loses the last row of the frame.

### What did you expect to happen?

All rows kept.

### MVCE confirmation

- [X] Minimal example — the example is as focused as reasonably possible to demonstrate the
  underlying issue in skyline.
- [X] Complete example — the example is self-contained, including all data and the text of
  any traceback.
- [X] New issue — a search of GitHub Issues suggests this is not a duplicate.

<!-- Paste the output here skyline.show_versions() here -->
"""
    + ENVIRONMENT
)


def test_a_filled_in_issue_template_points_at_the_code_not_at_the_template(
    index: CodeIndex,
) -> None:
    ranking = order(index, TEMPLATE_FILLED)
    assert ranking[0] == "skyline/core/frame.py"


def test_a_traceback_through_site_packages_points_at_the_failing_frame(index: CodeIndex) -> None:
    report = """Loading a frame fails

```
Traceback (most recent call last):
  File "/home/me/analysis.py", line 8, in <module>
    load(payload)
  File "/opt/conda/lib/python3.11/json/decoder.py", line 337, in decode
    obj, end = self.raw_decode(s, idx=_w(s, 0).end())
  File "/opt/conda/lib/python3.11/site-packages/skyline/core/checks.py", line 6, in check
    raise ValueError(message)
ValueError: bad frame
```
"""
    assert order(index, report)[0] == "skyline/core/checks.py"
    ranker = index.ranker
    assert ranker.resolve("C:\\\\conda\\\\Lib\\\\site-packages\\\\skyline\\\\io\\\\decoder.py") == (
        "skyline/io/decoder.py"
    )
    # A standard library file is not the project's file of the same name.
    assert ranker.resolve("/opt/conda/lib/python3.11/json/decoder.py") is None
    assert ranker.resolve("../../../../etc/passwd") is None
    assert ranker.resolve("/etc/skyline/core/../../passwd") is None


def test_a_link_to_a_line_of_a_file_points_at_that_file(index: CodeIndex) -> None:
    report = (
        "The comparison looks wrong here: "
        "https://github.com/example/skyline/blob/3f2a9c1/skyline/core/columns.py#L12\n"
        "It should compare the whole frame."
    )
    # The words point at frame.py; the link names columns.py, which no word does.
    assert order(index, report).index("skyline/core/columns.py") < 2


def test_a_quoted_error_message_finds_the_file_that_raises_it(index: CodeIndex) -> None:
    report = """Loading an old file fails

```
ValueError: Frame object is invalid - expected 'time' as the first column but found 'flux'
```

The first column of my frame is flux, the expected time column comes second.
"""
    assert order(index, report)[0] == "skyline/core/checks.py"


def test_a_function_called_through_the_package_finds_its_module_not_same_named_methods(
    index: CodeIndex,
) -> None:
    report = """where drops the attributes of a frame

```python
import skyline as sk
frame = sk.Frame(data, time, columns)
result = sk.where(frame > 0, frame, 0)
```
"""
    ranking = order(index, report)
    assert "skyline/core/compute.py" in ranking[:3]
    assert ranking.index("skyline/core/compute.py") < ranking.index("skyline/core/series.py")


def test_docs_examples_and_changelogs_weigh_less_than_the_code(index: CodeIndex) -> None:
    ranking = order(index, "interpolate should fill gaps at the start of a frame")
    assert ranking.index("skyline/core/frame.py") < ranking.index("CHANGES.rst")
    assert ranking.index("skyline/core/compute.py") < ranking.index("docs/examples/plot_frames.py")


def test_a_request_reads_boilerplate_as_weak_and_evidence_as_strong() -> None:
    request = read_request(
        "<!-- Please describe the bug, numpy pandas -->\n"
        "### What happened?\n"
        "numpy: 1.22.3\n"
        "- [X] Complete example — numpy\n"
        "`Frame.resample` breaks; see https://example.org/a/b/skyline/core/frame.py#L3 and "
        '<img src="https://user-images.example.com/shot.png" alt="pandas">\n'
    )
    assert "describe" not in request.terms  # the template's comment is gone
    assert "pandas" not in request.terms  # so are an image's attributes
    assert request.terms["numpy"] < 0.5  # a version line and a checklist say little
    assert request.terms["happened"] < 0.5  # a heading too
    assert request.terms["resample"] == 1.0
    assert set(request.symbols) == {"Frame", "resample"}
    assert [mention.path for mention in request.mentions] == [
        "example.org/a/b/skyline/core/frame.py"
    ]
