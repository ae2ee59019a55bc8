"""Keeping the index current: edits, deletes, renames, branch switches, and which files it
reads at all. After any sequence of updates the model must equal one built from scratch."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import agent.index.build
from agent.index.index import CodeIndex
from agent.index.store import Store

from helpers import git

BASE = {
    "shop/models.py": '''"""Records."""


class Product:
    def price_with_tax(self, rate: float) -> float:
        return self.price * (1 + rate)


class Order:
    def total(self) -> float:
        return sum(item.price_with_tax(0.2) for item in self.items)
''',
    "shop/pricing.py": """from shop.models import Order, Product


def apply_discount(order: Order, percent: int) -> float:
    return order.total() * (100 - percent) / 100


def cheapest(products: list[Product]) -> Product:
    return min(products, key=lambda p: p.price_with_tax(0.0))
""",
    "shop/cart.py": """from shop.pricing import apply_discount


def checkout(order):
    return apply_discount(order, 10) + shipping_cost(order)
""",
    "shop/shipping.py": """def ship(order):
    return "shipped"
""",
    "web/client.ts": """import { Order } from "./types";

export function submitOrder(order: Order): Promise<Response> {
  return fetch("/orders", { method: "POST" });
}
""",
    "web/types.ts": """export interface Order { id: number }
""",
    "docs/guide.md": "# Shop\n\nCall checkout() to pay.\n",
}


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    """A git repository holding BASE, committed on ``main``."""
    root = tmp_path / "proj"
    write(root, BASE)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    return root


@pytest.fixture
def index(proj: Path, tmp_path: Path) -> CodeIndex:
    built = CodeIndex(proj, Store(tmp_path / "index.sqlite"))
    built.refresh()
    return built


def fresh(root: Path, tmp_path: Path) -> CodeIndex:
    """An index built from scratch (new database, so every edge comes from link_all)."""
    store = Store(tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*.sqlite')))}.sqlite")
    built = CodeIndex(root, store)
    assert built.refresh().cold
    return built


def rows(table: Any) -> dict[str, dict[str, Any]]:
    """A table of the model (a dict of rows, or an object with ``items()``) as plain dicts."""
    return {key: dict(row) for key, row in table.items() if row}


def model_state(index: CodeIndex) -> dict[str, Any]:
    model = index.model
    edges = {
        (source, target): weight
        for source, out in rows(model.edges).items()
        for target, weight in out.items()
    }
    return {
        "files": dict(model.files),
        "broken": dict(model.broken),
        "postings": rows(model.postings),
        "defined": rows(model.defined),
        "def_terms": rows(model.def_terms),
        "referenced": rows(model.referenced),
        "top_level": rows(model.top_level),
        "edges": edges,
        "path_index": model.path_index(),  # kept across saves and loads, not rebuilt
    }


def assert_same_model(index: CodeIndex, rebuilt: CodeIndex) -> None:
    got, expected = model_state(index), model_state(rebuilt)
    for key in expected:
        if key == "edges":
            assert sorted(got[key]) == sorted(expected[key])
            assert got[key] == pytest.approx(expected[key], abs=1e-6)
        else:
            assert got[key] == expected[key], key
    ranking, expected_ranking = index.ranking("discount price"), rebuilt.ranking("discount price")
    assert [path for path, _ in ranking] == [path for path, _ in expected_ranking]
    assert [score for _, score in ranking] == pytest.approx([s for _, s in expected_ranking])


def where(index: CodeIndex, name: str) -> list[tuple[str, int]]:
    return [(d.path, d.line) for d in index.definitions(name)]


def no_parsing(*args: object) -> None:
    raise AssertionError("content already in the store was parsed again")


def test_edit_moves_a_definition_and_its_edges(index: CodeIndex, proj: Path) -> None:
    assert where(index, "ship") == [("shop/shipping.py", 1)]
    assert "shop/shipping.py" not in (index.model.edges.get("shop/cart.py") or {})
    (proj / "shop/shipping.py").write_text(
        "def shipping_cost(order):\n    return 4.5\n\n\ndef ship(order):\n    return 1\n"
    )
    assert index.update(["shop/shipping.py"]) == ["shop/shipping.py"]
    assert where(index, "shipping_cost") == [("shop/shipping.py", 1)]
    assert where(index, "ship") == [("shop/shipping.py", 5)]
    assert (index.model.edges.get("shop/cart.py") or {}).get("shop/shipping.py", 0) > 0
    (proj / "shop/shipping.py").write_text("def ship(order):\n    return 2\n")
    assert index.update(["shop/shipping.py"]) == ["shop/shipping.py"]
    assert where(index, "shipping_cost") == []
    assert "shop/shipping.py" not in (index.model.edges.get("shop/cart.py") or {})


def test_update_of_an_unchanged_file_changes_nothing(index: CodeIndex, proj: Path) -> None:
    before = model_state(index)
    os.utime(proj / "shop/cart.py")
    assert index.update(["shop/cart.py", "no/such/file.py"]) == []
    assert model_state(index) == before


def test_delete(index: CodeIndex, proj: Path) -> None:
    (proj / "shop/pricing.py").unlink()
    assert index.update(["shop/pricing.py"]) == ["shop/pricing.py"]
    assert "shop/pricing.py" not in index.model.files
    assert "shop/pricing.py" not in [path for path, _ in index.ranking("discount")]
    assert where(index, "apply_discount") == []
    assert index.outline("shop/pricing.py") is None
    assert "shop/pricing.py" not in (index.model.edges.get("shop/cart.py") or {})


def test_rename_does_not_parse_again(
    index: CodeIndex, proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = index.rows["shop/pricing.py"][2]
    assert index.store.has(digest)
    git(proj, "mv", "shop/pricing.py", "shop/discounts.py")
    monkeypatch.setattr(agent.index.build, "extract", no_parsing)
    changed = index.update(["shop/pricing.py", "shop/discounts.py"])
    assert changed == ["shop/discounts.py", "shop/pricing.py"]
    assert index.rows["shop/discounts.py"][2] == digest
    assert where(index, "apply_discount") == [("shop/discounts.py", 4)]
    assert "shop/pricing.py" not in index.model.files
    assert (index.model.edges.get("shop/cart.py") or {}).get("shop/discounts.py", 0) > 0
    # A plain mv (no git) works the same.
    shutil.move(proj / "shop/discounts.py", proj / "shop/prices.py")
    index.update(["shop/discounts.py", "shop/prices.py"])
    assert where(index, "apply_discount") == [("shop/prices.py", 4)]
    monkeypatch.undo()
    assert_same_model(index, fresh(proj, proj.parent))


def test_branch_switch_gives_the_model_of_the_other_branch(
    index: CodeIndex, proj: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(proj, "checkout", "-q", "-b", "other")
    write(
        proj,
        {
            "shop/shipping.py": "def shipping_cost(order):\n    return 4.5\n",
            "shop/models.py": BASE["shop/models.py"].replace("price_with_tax", "gross_price"),
            "shop/pricing.py": BASE["shop/pricing.py"].replace("price_with_tax", "gross_price"),
            "shop/stock.py": "class Warehouse:\n    def reserve(self, product):\n        pass\n",
        },
    )
    (proj / "web/types.ts").unlink()
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "other")
    git(proj, "checkout", "-q", "main")
    index.refresh()
    assert where(index, "ship") == [("shop/shipping.py", 1)]

    git(proj, "checkout", "-q", "other")
    changed = git(proj, "diff", "--name-only", "main", "other").split()
    assert len(changed) == 5
    assert sorted(index.update(changed)) == sorted(changed)
    rebuilt = fresh(proj, tmp_path)
    assert sorted(index.model.files) == sorted(rebuilt.model.files)
    for name in ("ship", "shipping_cost", "gross_price", "price_with_tax", "Warehouse", "Order"):
        assert where(index, name) == where(rebuilt, name), name
    assert where(index, "Warehouse") == [("shop/stock.py", 1)]
    assert where(index, "price_with_tax") == []
    assert_same_model(index, rebuilt)

    # And back: every content is in the store already, so nothing is parsed. Four files
    # come back and are read; shop/stock.py, gone, is dropped without reading.
    git(proj, "checkout", "-q", "main")
    monkeypatch.setattr(agent.index.build, "extract", no_parsing)
    assert index.refresh().read == 4
    assert where(index, "price_with_tax") == [("shop/models.py", 5)]
    monkeypatch.undo()
    assert_same_model(index, fresh(proj, tmp_path))


def test_incremental_updates_equal_a_rebuild(index: CodeIndex, proj: Path, tmp_path: Path) -> None:
    steps: list[tuple[dict[str, str], list[str]]] = [
        # A name used elsewhere gets defined in a second file, then a third use appears.
        ({"shop/shipping.py": "def total(order):\n    return 0\n\n\ndef ship(o):\n    pass\n"}, []),
        (
            {
                "shop/report.py": "from shop.models import Order\n\n\ndef report(o: Order):\n"
                "    return o.total() + apply_discount(o, 5)\n"
            },
            [],
        ),
        # A definition that others use disappears, and one file is deleted.
        (
            {"shop/pricing.py": "def cheapest(products):\n    return min(products)\n"},
            ["web/types.ts"],
        ),
        # A file starts using names, and another is emptied.
        (
            {
                "shop/cart.py": "def checkout(order):\n    return cheapest(order) + ship(order)\n",
                "docs/guide.md": "",
            },
            [],
        ),
    ]
    for written, deleted in steps:
        write(proj, written)
        for name in deleted:
            (proj / name).unlink()
        index.update([*written, *deleted])
        assert_same_model(index, fresh(proj, tmp_path))


def test_warm_start_replays_changes_made_while_away(
    index: CodeIndex, proj: Path, tmp_path: Path
) -> None:
    """Files edited, added and deleted between two runs: the next run's model (from the
    saved one plus what changed) equals a rebuild."""
    write(proj, {"shop/shipping.py": "def shipping_cost(order):\n    return 1\n"})
    index.update(["shop/shipping.py"])  # the saved model may lag behind this
    write(
        proj,
        {
            "shop/models.py": BASE["shop/models.py"].replace("class Order", "class Basket"),
            "shop/stock.py": "def reserve(product: Product):\n    pass\n",
        },
    )
    (proj / "web/client.ts").unlink()
    later = CodeIndex(proj, Store(index.store.path))
    stats = later.refresh()
    assert not stats.cold
    assert_same_model(later, fresh(proj, tmp_path))


def test_ignored_and_vendored_files_are_not_indexed(proj: Path, tmp_path: Path) -> None:
    write(
        proj,
        {
            ".gitignore": "build/\n*.log\n",
            ".shipmateignore": "fixtures/\n*.gen.ts\n",
            "build/out.py": "def built():\n    pass\n",
            "fixtures/big.py": "def fixture_data():\n    pass\n",
            "web/api.gen.ts": "export function generated(): void {}\n",
            "node_modules/lib/index.js": "function vendored() {}\n",
            "web/node_modules/x/y.js": "function nested_vendored() {}\n",
            "vendor/dep.go": "package dep\nfunc Vendored() {}\n",
            "package-lock.json": "{}\n",
            "rust/Cargo.lock": "[[package]]\n",
            "web/app.min.js": "function minified(){}\n",
            "web/bundle.js": "var a=1;" * 400,  # one very long line: minified
            "shop/kept.py": "def kept():\n    pass\n",
        },
    )
    index = CodeIndex(proj, Store(tmp_path / "index.sqlite"))
    index.refresh()
    indexed = [*BASE, "shop/kept.py", ".gitignore", ".shipmateignore"]
    assert sorted(index.model.files) == sorted(indexed)
    assert index.rows["web/bundle.js"][3] == "!minified"
    # The same files named one by one, as a watcher would, are refused too.
    write(
        proj,
        {
            "build/new.py": "def later():\n    pass\n",
            "fixtures/new.py": "def later2():\n    pass\n",
            "node_modules/lib/new.js": "function later3() {}\n",
            "debug.log": "def later4():\n",
            "shop/new.py": "def later5():\n    pass\n",
        },
    )
    changed = index.update(
        ["build/new.py", "fixtures/new.py", "node_modules/lib/new.js", "debug.log", "shop/new.py"]
    )
    assert changed == ["shop/new.py"]
    assert sorted(index.model.files) == sorted([*indexed, "shop/new.py"])


def test_a_gitignored_untracked_file_is_not_indexed(index: CodeIndex, proj: Path) -> None:
    write(proj, {".gitignore": "*.tmp.py\n"})
    index.update([".gitignore"])
    write(proj, {"scratch.tmp.py": "def scratch():\n    pass\n"})
    assert index.update(["scratch.tmp.py"]) == []
    assert where(index, "scratch") == []
    index.refresh()
    assert "scratch.tmp.py" not in index.model.files


def test_outside_git_the_walk_respects_gitignore(tmp_path: Path, ws: Path) -> None:
    write(
        ws,
        {
            ".gitignore": "out/\n",
            "out/gen.py": "def gen():\n    pass\n",
            "node_modules/m/index.js": "function m() {}\n",
            "src/main.py": "def main():\n    pass\n",
        },
    )
    with pytest.raises(subprocess.CalledProcessError):
        git(ws, "status")
    index = CodeIndex(ws, Store(tmp_path / "index.sqlite"))
    index.refresh()
    assert sorted(index.model.files) == [".gitignore", "src/main.py"]


def test_large_binary_and_broken_files(proj: Path, tmp_path: Path) -> None:
    huge = "def first():\n    pass\n" + "# padding\n" * 110_000
    assert len(huge) > 1_000_000
    write(
        proj,
        {
            "data/huge.py": huge,
            "data/image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
            "data/blob.py": b"def x():\n    pass\n\x00\x01\x02",
            "data/latin1.py": b"# caf\xe9\nMENU = 'caf\xe9'\n\n\ndef ok():\n    pass\n",
            "data/broken.py": "def before(a):\n    return a\n\n\ndef broken(:\n    pass\n\n\n"
            "class After:\n    pass\n",
        },
    )
    index = CodeIndex(proj, Store(tmp_path / "index.sqlite"))
    stats = index.refresh()
    assert stats.skipped == 3
    assert stats.files == len(BASE) + 2
    for skipped in ("data/huge.py", "data/image.png", "data/blob.py"):
        assert skipped not in index.model.files
    assert index.rows["data/huge.py"][3] == "!large"
    assert index.rows["data/image.png"][3] == "!binary"
    assert where(index, "first") == []
    assert where(index, "ok") == [("data/latin1.py", 5)]
    assert where(index, "before") == [("data/broken.py", 1)]
    assert "data/broken.py" in index.model.broken
    assert "data/latin1.py" not in index.model.broken
    # Fixed: no longer marked.
    write(proj, {"data/broken.py": "def before(a):\n    return a\n"})
    index.update(["data/broken.py"])
    assert "data/broken.py" not in index.model.broken
    # A file that grows past the limit leaves the index; one that shrinks comes back.
    write(proj, {"shop/shipping.py": huge})
    index.update(["shop/shipping.py"])
    assert where(index, "ship") == [] and "shop/shipping.py" not in index.model.files
    write(proj, {"data/huge.py": "def first():\n    pass\n"})
    index.update(["data/huge.py"])
    assert where(index, "first") == [("data/huge.py", 1)]
    assert_same_model(index, fresh(proj, tmp_path))


def test_outline_of_a_skipped_file_is_none(proj: Path, tmp_path: Path) -> None:
    write(proj, {"data/image.png": b"\x89PNG\x00\x00"})
    index = CodeIndex(proj, Store(tmp_path / "index.sqlite"))
    index.refresh()
    assert index.outline("data/image.png") is None


def test_refresh_of_a_loaded_index_counts_what_it_parsed(index: CodeIndex, proj: Path) -> None:
    write(proj, {"shop/shipping.py": "def shipping_cost(order):\n    return 4.5\n"})
    stats = index.refresh()
    assert where(index, "shipping_cost") == [("shop/shipping.py", 1)]
    assert (stats.read, stats.parsed) == (1, 1)


def test_symlinks_are_not_followed(proj: Path, tmp_path: Path, index: CodeIndex) -> None:
    """Files reached through a link are left out, when listed and when named by a watcher
    alike: a link may lead out of the workspace, to what the model must not see."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def secret_token():\n    return 'hunter2'\n")
    (proj / "link.py").symlink_to(outside / "secret.py")
    (proj / "linked_dir").symlink_to(outside)
    (proj / "shop" / "alias.py").symlink_to(proj / "shop" / "cart.py")
    named = ["link.py", "linked_dir", "linked_dir/secret.py", "shop/alias.py"]
    assert index.update(named) == []
    index.refresh()
    assert where(index, "secret_token") == []
    assert where(index, "checkout") == [("shop/cart.py", 4)]
    assert not any(path in index.model.files for path in named)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_updates_equal_a_rebuild(seed: int, proj: Path, tmp_path: Path) -> None:
    """Files defining and using an overlapping set of names, rewritten and deleted at random;
    after each batch the graph updated in place equals the one built from scratch."""
    rng = random.Random(seed)
    names = ["alpha", "beta_gamma", "Delta", "run", "_private", "x", "parseConfig", "load"]

    def source() -> str:
        lines = [f"def {name}():\n    pass\n" for name in rng.sample(names, rng.randint(0, 3))]
        for name in rng.sample(names, rng.randint(0, 4)):
            lines += [f"{name}()\n"] * rng.randint(1, 3)
        return "".join(lines)

    paths = [f"gen/f{i}.py" for i in range(6)]
    write(proj, {path: source() for path in paths})
    index = CodeIndex(proj, Store(tmp_path / "index.sqlite"))
    index.refresh()
    for _ in range(8):
        batch = rng.sample(paths, rng.randint(1, 3))
        for path in batch:
            if rng.random() < 0.25:
                (proj / path).unlink(missing_ok=True)
            else:
                write(proj, {path: source()})
        index.update(batch)
        assert_same_model(index, fresh(proj, tmp_path))


def test_many_files_go_through_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough files for the process pool: workers read, hash and parse, and skip content
    the store already has (they look it up in the database themselves)."""
    count = 2 * agent.index.build.PARALLEL_FROM
    files = {
        f"pkg/mod_{i}.py": f"from pkg.mod_{(i + 1) % count} import step_{(i + 1) % count}\n\n\n"
        f"def step_{i}(x):\n    return step_{(i + 1) % count}(x)\n"
        for i in range(count)
    }
    write(tmp_path / "one", files)
    write(tmp_path / "two", files)
    path = tmp_path / "index.sqlite"
    first = CodeIndex(tmp_path / "one", Store(path))
    stats = first.refresh()
    assert (stats.files, stats.parsed, stats.symbols) == (count, count, count)
    assert all(where(first, f"step_{i}") == [(f"pkg/mod_{i}.py", 4)] for i in range(count))
    second = CodeIndex(tmp_path / "two", Store(path))
    stats = second.refresh()
    assert (stats.read, stats.parsed) == (count, 0)
    assert model_state(second)["edges"] == model_state(first)["edges"]
    # The pool's model is the one built file by file in this process.
    assert model_state(first)["top_level"]["step_3"] == {"pkg/mod_3.py": 1}
    monkeypatch.setattr(agent.index.build, "PARALLEL_FROM", 10 * count)
    assert_same_model(first, fresh(tmp_path / "two", tmp_path))
    # A formatter run over every file: one update, through the pool again.
    for name, text in files.items():
        (tmp_path / "one" / name).write_text("# formatted\n" + text)
    assert len(first.update(list(files))) == count
    assert where(first, "step_7") == [("pkg/mod_7.py", 5)]
    assert_same_model(first, fresh(tmp_path / "one", tmp_path))


def test_a_newly_ignored_file_leaves_a_loaded_index(index: CodeIndex, proj: Path) -> None:
    write(proj, {".shipmateignore": "shop/shipping.py\n"})
    index.refresh()
    assert where(index, "ship") == []
    assert "shop/shipping.py" not in index.model.files
