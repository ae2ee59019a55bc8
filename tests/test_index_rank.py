"""Ranking, the repo map and the code tools, on a small realistic project: a blog with
models, a database layer, views, templates, helpers, tests, a script and a README."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.index.index import CodeIndex
from agent.index.repomap import estimate_tokens
from agent.index.store import Store
from tools.base import ToolContext, ToolError
from tools.code import FileOutline, FindSymbol, RepoMap

from helpers import committed

WEBAPP = {
    "app/__init__.py": '"""A tiny blog."""\n',
    "app/config.py": '''"""Reading the settings file."""

import json
from pathlib import Path

from app.utils import strip_comments


class ConfigError(Exception):
    pass


def parse_config(path: Path) -> dict:
    """The settings in a JSON file, comments allowed."""
    text = path.read_text()
    return json.loads(strip_comments(text))


def default_config() -> dict:
    return {"debug": False, "database": "blog.db"}
''',
    "app/utils.py": '''"""Small helpers used everywhere."""

import re


def strip_comments(text: str) -> str:
    return re.sub(r"//.*", "", text)


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def format_date(value) -> str:
    return value.strftime("%Y-%m-%d")


def paginate(items: list, page: int, size: int = 10) -> list:
    return items[page * size : (page + 1) * size]
''',
    "app/models.py": '''"""The blog's records."""

from dataclasses import dataclass

from app.utils import format_date, slugify


@dataclass
class User:
    name: str
    email: str

    def display_name(self) -> str:
        return self.name.title()


@dataclass
class Post:
    title: str
    author: User
    created: object

    def slug(self) -> str:
        return slugify(self.title)

    def published_on(self) -> str:
        return format_date(self.created)
''',
    "app/database.py": '''"""Storing records in SQLite."""

import sqlite3

from app.config import parse_config
from app.models import Post, User
from app.utils import slugify


class Database:
    def __init__(self, settings_path):
        self.settings = parse_config(settings_path)
        self.connection = sqlite3.connect(self.settings["database"])

    def save_post(self, post: Post) -> None:
        self.connection.execute("INSERT INTO posts VALUES (?)", (slugify(post.title),))

    def find_user(self, name: str) -> User:
        row = self.connection.execute("SELECT * FROM users WHERE name=?", (name,)).fetchone()
        return User(*row)
''',
    "app/views.py": '''"""Handlers for each page."""

from app.database import Database
from app.models import Post, User
from app.templates import render_template
from app.utils import paginate


def list_posts(db: Database, page: int) -> str:
    posts = paginate(db.all_posts(), page)
    return render_template("posts.html", posts=posts)


def show_user(db: Database, name: str) -> str:
    user: User = db.find_user(name)
    return render_template("user.html", user=user)


def new_post(db: Database, title: str, author: User) -> str:
    db.save_post(Post(title, author, None))
    return render_template("saved.html")
''',
    "app/templates.py": '''"""Rendering HTML pages."""

from string import Template

from app.utils import slugify


def render_template(name: str, **values) -> str:
    return Template(open(name).read()).substitute(values, slug=slugify(name))
''',
    "app/server.py": '''"""The HTTP server."""

from http.server import BaseHTTPRequestHandler, HTTPServer

from app.config import default_config
from app.views import list_posts, show_user


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.wfile.write(list_posts(None, 0).encode())


def serve(port: int = 8000) -> None:
    default_config()
    HTTPServer(("", port), Handler).serve_forever()
''',
    "tests/test_config.py": """from pathlib import Path

from app.config import parse_config


def test_parse_config_reads_json(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"debug": true}')
    assert parse_config(path) == {"debug": True}


def test_parse_config_strips_comments(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"debug": true} // on')
    assert parse_config(path)["debug"]
""",
    "tests/test_models.py": """from app.models import Post, User


def test_slug() -> None:
    assert Post("Hello World", User("a", "b"), None).slug() == "hello-world"
""",
    "scripts/deploy.sh": """#!/bin/bash
set -e

upload() {
  rsync -a build/ "$1"
}

upload server:/srv/blog
""",
    "README.md": "# Blog\\n\\nA tiny blog engine. Run `python -m app.server`.\\n",
}


@pytest.fixture
def blog(tmp_path: Path) -> Path:
    return committed(tmp_path / "blog", WEBAPP, "blog")


@pytest.fixture
def index(blog: Path, tmp_path: Path) -> CodeIndex:
    built = CodeIndex(blog, Store(tmp_path / "index.sqlite"))
    built.refresh()
    return built


def order(index: CodeIndex, request: str = "", focus: list[str] | None = None) -> list[str]:
    return [path for path, _ in index.ranking(request, focus or [])]


def test_an_identifier_in_the_request_puts_its_definition_first(index: CodeIndex) -> None:
    assert order(index, "fix parse_config when the file is empty")[0] == "app/config.py"
    assert order(index, "paginate returns one item too many")[0] == "app/utils.py"
    assert order(index, "Database.find_user fails for unknown names")[0] == "app/database.py"
    assert order(index, "display_name() should keep capitals")[0] == "app/models.py"


@pytest.mark.parametrize(
    ("request_text", "path"),
    [
        ("the templates are slow", "app/templates.py"),
        ("the database connection is never closed", "app/database.py"),
        ("make the server listen on all interfaces", "app/server.py"),
        ("deploy to the new host", "scripts/deploy.sh"),
    ],
)
def test_a_path_word_puts_that_file_in_the_top_three(
    index: CodeIndex, request_text: str, path: str
) -> None:
    assert path in order(index, request_text)[:3]


def test_tests_rank_below_the_code_they_test(index: CodeIndex) -> None:
    ranked = order(index, "parse_config should strip comments from the settings")
    assert ranked.index("app/config.py") < ranked.index("tests/test_config.py")
    ranked = order(index, "the slug of a Post")
    assert ranked.index("app/models.py") < ranked.index("tests/test_models.py")


def test_focus_lifts_the_files_it_depends_on(index: CodeIndex) -> None:
    ranked = order(index, "", ["app/views.py"])
    assert ranked[0] == "app/views.py"
    unrelated = ("README.md", "scripts/deploy.sh", "app/server.py", "tests/test_config.py")
    for dependency in ("app/database.py", "app/models.py", "app/templates.py", "app/utils.py"):
        for other in unrelated:
            assert ranked.index(dependency) < ranked.index(other), (dependency, other)
    # The same focus with a request: the request's file first, the focus's neighbours next.
    ranked = order(index, "render the page", ["app/views.py"])
    assert ranked.index("app/templates.py") < ranked.index("app/config.py")


def test_without_a_request_the_most_used_module_comes_first(index: CodeIndex) -> None:
    ranked = index.ranking()
    assert ranked[0][0] == "app/utils.py"
    assert ranked[0][1] > ranked[1][1]


def test_ranking_is_deterministic_and_covers_every_file(index: CodeIndex, blog: Path) -> None:
    for request in ("", "parse_config", "slow templates", "nothing matches zzz"):
        first = index.ranking(request)
        assert index.ranking(request) == first
        assert sorted(path for path, _ in first) == sorted(WEBAPP)
        assert [score for _, score in first] == sorted((s for _, s in first), reverse=True)
    # A second index of the same files, in another database, ranks the same.
    again = CodeIndex(blog, Store(blog.parent / "other.sqlite"))
    again.refresh()
    assert again.ranking("parse_config empty") == index.ranking("parse_config empty")


@pytest.mark.parametrize("budget", [256, 512, 1024, 4096])
def test_repo_map_stays_within_its_budget(index: CodeIndex, budget: int) -> None:
    for request in ("fix parse_config when the file is empty", ""):
        text = index.repo_map(request, tokens=budget)
        assert text
        assert estimate_tokens(text) <= budget
        assert index.repo_map(request, tokens=budget) == text


def test_repo_map_shows_the_best_file_first_with_its_signatures(index: CodeIndex) -> None:
    text = index.repo_map("fix parse_config when the file is empty", tokens=1024)
    lines = text.splitlines()
    assert lines[0] == "app/config.py:"
    assert "    13│ def parse_config(path: Path) -> dict:" in lines[:5]
    assert "return" not in text  # headers, never bodies
    # Methods are indented under their class.
    models = index.repo_map("Post slug", tokens=1024)
    assert "     9│ class User:" in models
    assert "    23│     def slug(self) -> str:" in models
    # A bigger budget shows more, never less.
    small, large = index.repo_map("", tokens=256), index.repo_map("", tokens=4096)
    assert len(large) > len(small)
    assert large.startswith(small.split("\n", 1)[0])


def test_repo_map_with_a_tiny_budget_is_empty_or_within_it(index: CodeIndex) -> None:
    for budget in (1, 5, 20):
        assert estimate_tokens(index.repo_map("parse_config", tokens=budget)) <= budget


# --- the tools ------------------------------------------------------------------------------


@pytest.fixture
def ctx(blog: Path, index: CodeIndex, tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=blog, log_dir=tmp_path / "logs", index=index)


async def test_repo_map_tool(ctx: ToolContext) -> None:
    result = await RepoMap(query="fix parse_config when the file is empty").run(ctx)
    assert not result.is_error
    assert result.output.startswith("app/config.py:\n")
    assert "13│ def parse_config(path: Path) -> dict:" in result.output
    focused = await RepoMap(focus=["app/views.py"]).run(ctx)
    assert focused.output.startswith("app/views.py:\n")
    with pytest.raises(ToolError, match="outside the workspace"):
        await RepoMap(focus=["../elsewhere.py"]).run(ctx)
    missing = await RepoMap(focus=["app/nope.py", "app/views.py"]).run(ctx)
    assert missing.output.startswith(
        "Note: focus app/nope.py: no such file; the map is ranked without it.\napp/views.py:\n"
    )
    # Words found nowhere: the map falls back to the files the rest depends on.
    unmatched = await RepoMap(query="zzyzx qwerty").run(ctx)
    assert unmatched.output.startswith("app/utils.py:\n")


async def test_repo_map_tool_when_nothing_matches(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    index = CodeIndex(root, Store(tmp_path / "notes.sqlite"))
    ctx = ToolContext(workspace=root, index=index)
    result = await RepoMap(query="anything").run(ctx)
    assert (result.output, result.summary) == ("The index has no files.", "empty")
    (root / "todo.md").write_text("Buy milk.\n")  # no definitions, no links
    result = await RepoMap(query="zzyzx").run(ctx)
    assert result.output == "No indexed file matches 'zzyzx'; try other words, or grep."
    assert result.summary == "no match"
    result = await RepoMap(query="milk").run(ctx)
    assert result.output == "todo.md"


async def test_find_symbol_tool(ctx: ToolContext, blog: Path) -> None:
    result = await FindSymbol(symbol="parse_config").run(ctx)
    lines = result.output.splitlines()
    assert lines[0] == "Definitions of parse_config:"
    assert lines[1] == "  app/config.py:13  def parse_config(path: Path) -> dict:"
    assert "  app/database.py:12  self.settings = parse_config(settings_path)" in lines
    assert "  tests/test_config.py:3  from app.config import parse_config" in lines
    assert result.summary == "1 definition, 5 uses"
    for qualified in ("Database.save_post()", "Database::save_post", "Database#save_post"):
        method = await FindSymbol(symbol=qualified).run(ctx)
        assert "  app/database.py:15  def save_post(self, post: Post) -> None:" in method.output
    missing = await FindSymbol(symbol="no_such_thing").run(ctx)
    assert "No definition or use of 'no_such_thing'" in missing.output
    # The tool refreshes the index first: a file written since is found.
    (blog / "app" / "feeds.py").write_text("def rss_feed(posts):\n    return ''\n")
    fresh = await FindSymbol(symbol="rss_feed").run(ctx)
    assert "  app/feeds.py:1  def rss_feed(posts):" in fresh.output


async def test_file_outline_tool(ctx: ToolContext, blog: Path) -> None:
    result = await FileOutline(path="app/models.py").run(ctx)
    assert result.output.splitlines() == [
        "     9│ class User:",
        "    13│     def display_name(self) -> str:",
        "    18│ class Post:",
        "    23│     def slug(self) -> str:",
        "    26│     def published_on(self) -> str:",
    ]
    assert result.summary == "5 definitions"
    empty = await FileOutline(path="README.md").run(ctx)
    assert "no definitions" in empty.output
    with pytest.raises(ToolError, match="outside the workspace"):
        await FileOutline(path="../index.sqlite").run(ctx)
    with pytest.raises(ToolError, match="outside the workspace"):
        await FileOutline(path="/etc/passwd").run(ctx)
    (blog / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (blog / ".gitignore").write_text("local/\n")
    (blog / "local").mkdir()
    (blog / "local" / "notes.py").write_text("def mine():\n    pass\n")
    (blog / "node_modules" / "x").mkdir(parents=True)
    (blog / "node_modules" / "x" / "index.js").write_text("function x() {}\n")
    for skipped in ("logo.png", "local/notes.py", "node_modules/x/index.js", "nowhere.py"):
        with pytest.raises(ToolError, match="not in the index"):
            await FileOutline(path=skipped).run(ctx)


async def test_tools_without_an_index_say_to_use_grep(ctx: ToolContext) -> None:
    ctx.index = None
    for tool in (RepoMap(query="x"), FindSymbol(symbol="x"), FileOutline(path="app/utils.py")):
        with pytest.raises(ToolError, match="grep"):
            await tool.run(ctx)


def test_repo_map_shows_the_definition_the_request_names(tmp_path: Path) -> None:
    root = tmp_path / "events"
    root.mkdir()
    (root / "registry.py").write_text(
        "class Registry:\n"
        + "".join(f"    def handler_{i}(self, event):\n        return {i}\n\n" for i in range(40))
    )
    index = CodeIndex(root, Store(tmp_path / "index.sqlite"))
    index.refresh()
    text = index.repo_map("handler_37 crashes on empty events", tokens=1024)
    assert "   113│     def handler_37(self, event):" in text
