"""Tags of real snippets in each language, through the real tree-sitter grammars."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.index.index import CodeIndex
from agent.index.languages import LANGUAGES, detect, installed
from agent.index.store import Store
from agent.index.tags import Definition, extract, split_identifier, words


def by_name(defs: list[Definition]) -> dict[str, Definition]:
    """The first definition of each name (tests pick snippets without duplicates)."""
    found: dict[str, Definition] = {}
    for definition in defs:
        found.setdefault(definition[0], definition)
    return found


def check(defs: list[Definition], name: str, kind: str, line: int, signature: str) -> Definition:
    definition = by_name(defs)[name]
    assert (definition[1], definition[2], definition[5]) == (kind, line, signature), definition
    return definition


def parent_of(defs: list[Definition], name: str) -> str | None:
    parent = by_name(defs)[name][4]
    return defs[parent][0] if parent >= 0 else None


def test_every_language_has_its_grammar_installed() -> None:
    assert installed() == [language.name for language in LANGUAGES]


PYTHON = b"""from pkg.mod import Name, Other as Alias
import os


class Base(object):
    pass


class Child(Base, mod.Mixin):  # a comment
    def method(self, x):  # trailing
        helper(x)
        return Name(x)


def f(a, b) -> int:  # note: not part of the header
    return g(a)


@decorate
def spread(
    first,
    second,
):
    pass


LIMIT = 10
"""


def test_python() -> None:
    defs, refs, _, broken = extract(PYTHON, "python")
    assert not broken
    check(defs, "Base", "class", 4, "class Base(object):")
    check(defs, "Child", "class", 8, "class Child(Base, mod.Mixin):")
    check(defs, "method", "method", 9, "def method(self, x):")
    assert parent_of(defs, "method") == "Child"
    check(defs, "f", "function", 14, "def f(a, b) -> int:")
    assert parent_of(defs, "f") is None
    check(defs, "spread", "function", 19, "def spread(first, second):")
    check(defs, "LIMIT", "constant", 26, "LIMIT = 10")
    # Imported names, base classes, calls and decorators are references; modules are not.
    for name in ("Name", "Other", "Base", "Mixin", "helper", "g", "decorate"):
        assert name in refs, name
    assert refs["Name"] == 2
    assert "os" not in refs and "Alias" not in refs
    # A definition's own name is not a use of it.
    assert "Child" not in refs and "method" not in refs


JAVASCRIPT = b"""import { parse, Thing } from "./lib";

class Widget extends Base {
  render(props) {
    return draw(props);
  }
}

function build(a, b) {
  return parse(a).run(b);
}

const arrow = (x) => compute(x);
"""


def test_javascript() -> None:
    defs, refs, _, _ = extract(JAVASCRIPT, "javascript")
    check(defs, "Widget", "class", 2, "class Widget extends Base")
    check(defs, "render", "method", 3, "render(props)")
    assert parent_of(defs, "render") == "Widget"
    check(defs, "build", "function", 8, "function build(a, b)")
    check(defs, "arrow", "function", 12, "arrow = (x) =>")
    for name in ("parse", "Thing", "Base", "draw", "run", "compute"):
        assert name in refs, name
    assert "Widget" not in refs


TYPESCRIPT = b"""import { Config, load } from "./config";

export interface Shape { area(): number; }

export type Id = string;

export class Circle implements Shape {
  constructor(private r: number) {}
  area(): number { return Math.PI * square(this.r); }
}

export function f(a: number): string {
  return load(a).toString();
}

function useConfig(c: Config): Id { return c.id; }

enum Color { Red, Green }
export const DEFAULTS = { a: 1 };
"""


def test_typescript() -> None:
    defs, refs, _, _ = extract(TYPESCRIPT, "typescript")
    check(defs, "Shape", "interface", 2, "interface Shape")
    check(defs, "Id", "type", 4, "type Id = string;")
    check(defs, "Circle", "class", 6, "class Circle implements Shape")
    check(defs, "constructor", "method", 7, "constructor(private r: number)")
    assert parent_of(defs, "constructor") == "Circle"
    area = [d for d in defs if d[0] == "area"]
    assert [defs[d[4]][0] for d in area] == ["Shape", "Circle"]
    check(defs, "f", "function", 11, "function f(a: number): string")
    check(defs, "useConfig", "function", 15, "function useConfig(c: Config): Id")
    check(defs, "Color", "enum", 17, "enum Color")
    check(defs, "DEFAULTS", "constant", 18, "DEFAULTS = { a: 1 }")
    # Imports, type references (once per use) and calls.
    assert refs["Config"] == 2  # the import and the parameter's type
    assert refs["Id"] == 1 and refs["Shape"] == 1
    for name in ("load", "square", "toString"):
        assert name in refs, name
    assert "Circle" not in refs and "Color" not in refs


TSX = b"""import { useState } from "react";

interface Props { name: string }

export function Greeting(props: Props): JSX.Element {
  const [n, setN] = useState(0);
  return <div onClick={() => setN(n + 1)}>{props.name}</div>;
}

class Panel extends Component<Props> {
  render() { return <Greeting name="x" />; }
}
"""


def test_tsx() -> None:
    defs, refs, _, broken = extract(TSX, "tsx")
    assert not broken
    check(defs, "Props", "interface", 2, "interface Props")
    check(defs, "Greeting", "function", 4, "function Greeting(props: Props): JSX.Element")
    check(defs, "Panel", "class", 9, "class Panel extends Component<Props>")
    check(defs, "render", "method", 10, "render()")
    assert parent_of(defs, "render") == "Panel"
    for name in ("useState", "Props", "Component", "setN"):
        assert name in refs, name


GO = b"""package main

import "fmt"

type Server struct {
	port int
}

type Handler interface {
	Serve() error
}

func (s *Server) Start(port int) error {
	fmt.Println(port)
	return listen(port)
}

func main() {
	s := NewServer()
	s.Start(8080)
}
"""


def test_go() -> None:
    defs, refs, _, _ = extract(GO, "go")
    check(defs, "Server", "type", 4, "type Server struct")
    check(defs, "Handler", "type", 8, "type Handler interface")
    check(defs, "Start", "method", 12, "func (s *Server) Start(port int) error")
    check(defs, "main", "function", 17, "func main()")
    for name in ("Println", "listen", "NewServer", "Start", "Server"):
        assert name in refs, name


RUST = b"""use std::collections::HashMap;
use crate::config::{Config, load as read_config};

struct Point { x: i32, y: i32 }

trait Area { fn area(&self) -> f64; }

impl Point {
    fn new(x: i32, y: i32) -> Self {
        Point { x, y }
    }
}

fn main() {
    let c: Config = Config::parse();
    let p = Point::new(1, 2);
    compute(p);
}

mod inner { pub fn g() {} }
"""


def test_rust() -> None:
    defs, refs, _, _ = extract(RUST, "rust")
    check(defs, "Point", "class", 3, "struct Point")
    check(defs, "Area", "interface", 5, "trait Area")
    check(defs, "area", "method", 5, "fn area(&self) -> f64;")
    assert parent_of(defs, "area") == "Area"
    check(defs, "new", "method", 8, "fn new(x: i32, y: i32) -> Self")
    check(defs, "main", "function", 13, "fn main()")
    check(defs, "inner", "module", 19, "mod inner")
    # Plain and path calls (``Point::new``), ``use`` imports and types.
    for name in ("compute", "new", "parse", "HashMap", "Config", "load", "Point"):
        assert name in refs, name


JAVA = b"""package shop;

import java.util.List;
import shop.db.Repository;

public class Service extends BaseService implements Runner {
    private Repository repository;

    public Service(Repository repository) {
        this.repository = repository;
    }

    public int run(String name, int times) throws Exception {
        return helper(name).size();
    }

    enum Mode { FAST, SLOW }
}

interface Runner { void run(); }
"""


def test_java() -> None:
    defs, refs, _, _ = extract(JAVA, "java")
    check(defs, "Service", "class", 5, "public class Service extends BaseService implements Runner")
    constructor = [d for d in defs if d[0] == "Service" and d[1] == "method"]
    assert [(d[2], d[5]) for d in constructor] == [(8, "public Service(Repository repository)")]
    check(defs, "run", "method", 12, "public int run(String name, int times) throws Exception")
    assert parent_of(defs, "run") == "Service"
    check(defs, "Mode", "enum", 16, "enum Mode")
    check(defs, "Runner", "interface", 19, "interface Runner")
    for name in ("BaseService", "Runner", "helper", "size", "Repository", "List"):
        assert name in refs, name


C = b"""#include <stdio.h>

struct point { int x; int y; };

typedef struct point point_t;

static int add(int a, int b) {
    return a + b;
}

int main(void) {
    printf("%d", add(1, 2));
    return compute(3);
}
"""


def test_c() -> None:
    defs, refs, _, _ = extract(C, "c")
    check(defs, "point", "class", 2, "struct point")
    check(defs, "point_t", "type", 4, "typedef struct point point_t;")
    # The whole header, return type included; the definition spans its body.
    add = check(defs, "add", "function", 6, "static int add(int a, int b)")
    assert add[3] == 8
    check(defs, "main", "function", 10, "int main(void)")
    for name in ("printf", "add", "compute", "point"):
        assert name in refs, name
    assert "point_t" not in refs


CPP = b"""#include <vector>

namespace geo {

class Shape {
public:
    virtual double area() const;
};

class Circle : public Shape {
public:
    double area() const override { return helper(r); }
    double r;
};

double Shape::area() const { return 0; }

}

int main() {
    geo::Circle c;
    std::vector<int> v;
    v.push_back(1);
    return run(c);
}
"""


def test_cpp() -> None:
    defs, refs, _, _ = extract(CPP, "cpp")
    check(defs, "Shape", "class", 4, "class Shape")
    check(defs, "Circle", "class", 9, "class Circle : public Shape")
    areas = [
        (d[1], d[2], d[5], defs[d[4]][0] if d[4] >= 0 else None) for d in defs if d[0] == "area"
    ]
    assert areas == [
        ("method", 6, "virtual double area() const;", "Shape"),
        ("method", 11, "double area() const override", "Circle"),
        ("method", 15, "double Shape::area() const", None),
    ]
    check(defs, "main", "function", 19, "int main()")
    for name in ("helper", "push_back", "run", "Shape", "Circle"):
        assert name in refs, name


CSHARP = b"""using System;

namespace App.Core
{
    public interface IRepo { void Save(); }

    public class UserService : BaseService, IRepo
    {
        public string Name { get; set; }

        public UserService(string name) { Name = name; }

        public void Save()
        {
            Validate(Name);
            var user = new User(Name);
            logger.Write(user);
        }
    }

    enum Kind { A, B }
}
"""


def test_csharp() -> None:
    defs, refs, _, _ = extract(CSHARP, "csharp")
    check(defs, "App.Core", "module", 2, "namespace App.Core")
    check(defs, "IRepo", "interface", 4, "public interface IRepo")
    check(defs, "UserService", "class", 6, "public class UserService : BaseService, IRepo")
    assert parent_of(defs, "UserService") == "App.Core"
    check(defs, "Name", "property", 8, "public string Name { get; set; }")
    saves = [(d[2], d[5], defs[d[4]][0]) for d in defs if d[0] == "Save"]
    assert saves == [(4, "void Save();", "IRepo"), (12, "public void Save()", "UserService")]
    check(defs, "Kind", "enum", 20, "enum Kind")
    for name in ("BaseService", "IRepo", "Validate", "User", "Write"):
        assert name in refs, name


RUBY = b"""require "json"

module Shop
  class Cart < Base
    def initialize(items)
      @items = items
    end

    def total(tax = 0)
      compute_total(@items) + tax
    end

    def self.build
      new([])
    end
  end
end
"""


def test_ruby() -> None:
    defs, refs, _, _ = extract(RUBY, "ruby")
    check(defs, "Shop", "module", 2, "module Shop")
    check(defs, "Cart", "class", 3, "class Cart < Base")
    assert parent_of(defs, "Cart") == "Shop"
    check(defs, "initialize", "method", 4, "def initialize(items)")
    check(defs, "total", "method", 8, "def total(tax = 0)")
    check(defs, "build", "method", 12, "def self.build")
    assert {parent_of(defs, name) for name in ("initialize", "total", "build")} == {"Cart"}
    assert refs["compute_total"] == 1  # matched by two patterns, counted once
    assert "Base" in refs and "new" in refs
    for name in ("Shop", "Cart", "total", "build", "initialize"):
        assert name not in refs, name


PHP = b"""<?php
namespace App;

use App\\Models\\User;

interface Repo { public function save(); }

class UserRepo extends BaseRepo implements Repo
{
    public function save($user, int $n): bool
    {
        return validate($user);
    }
}

function helper($x) {
    return strlen($x);
}
"""


def test_php() -> None:
    defs, refs, _, _ = extract(PHP, "php")
    check(defs, "Repo", "interface", 5, "interface Repo")
    check(defs, "UserRepo", "class", 7, "class UserRepo extends BaseRepo implements Repo")
    saves = [(d[1], d[2], d[5], defs[d[4]][0]) for d in defs if d[0] == "save"]
    assert saves == [
        ("method", 5, "public function save();", "Repo"),
        ("method", 9, "public function save($user, int $n): bool", "UserRepo"),
    ]
    check(defs, "helper", "function", 15, "function helper($x)")
    for name in ("validate", "strlen", "BaseRepo", "Repo", "User"):
        assert name in refs, name


BASH = b"""#!/bin/bash

greet() {
  echo "hello $1"
}

function build_all {
  make -C src
  greet world
}

build_all
"""


def test_bash() -> None:
    defs, refs, _, _ = extract(BASH, "bash")
    check(defs, "greet", "function", 2, "greet()")
    check(defs, "build_all", "function", 6, "function build_all")
    assert refs["greet"] == 1 and refs["build_all"] == 1
    assert "make" in refs


def test_syntax_error_keeps_the_definitions_before_it() -> None:
    data = b"def ok(a):\n    return a\n\n\nclass Fine:\n    pass\n\n\ndef broken(:\n    pass\n"
    defs, _, _, broken = extract(data, "python")
    assert broken
    assert {"ok", "Fine"} <= set(by_name(defs))


def test_invalid_utf8_and_long_signatures() -> None:
    params = ", ".join(f"p{i}" for i in range(80))
    data = b"def caf\xe9():\n    pass\n\n\ndef wide(" + params.encode() + b"):\n    pass\n"
    defs, _, counts, _ = extract(data, "python")
    wide = by_name(defs)["wide"]
    assert len(wide[5]) == 160 and wide[5].endswith("…")
    assert "wide" in counts


@pytest.mark.parametrize(
    ("path", "head", "expected"),
    [
        ("app/main.py", b"", "python"),
        ("types.pyi", b"", "python"),
        ("web/App.TSX", b"", "tsx"),
        ("lib/index.mjs", b"", "javascript"),
        ("src/x.ts", b"", "typescript"),
        ("include/vec.hpp", b"", "cpp"),
        ("include/vec.h", b"", "c"),
        ("Rakefile.rake", b"", "ruby"),
        ("bin/tool", b"#!/usr/bin/env python3\nprint(1)\n", "python"),
        ("bin/tool", b"#!/usr/bin/env -S python3.12 -u\n", "python"),
        ("bin/build", b"#!/bin/bash\nset -e\n", "bash"),
        ("bin/serve", b"#!/usr/bin/env node\n", "javascript"),
        ("bin/run", b"#!/bin/sh\n", "bash"),
        ("bin/other", b"#!/usr/bin/env perl\n", None),
        ("Makefile", b"all:\n\tcc x.c\n", None),
        ("notes.txt", b"#!/usr/bin/env python3\n", None),
        ("data.weird", b"", None),
    ],
)
def test_detect(path: str, head: bytes, expected: str | None) -> None:
    language = detect(path, head)
    assert (language.name if language else None) == expected


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("parse_expr", ("parse_expr", "parse", "expr")),
        ("AbelianGroup", ("abeliangroup", "abelian", "group")),
        ("HTTPServer", ("httpserver", "http", "server")),
        ("getHTTPResponse2", ("gethttpresponse2", "get", "http", "response", "2")),
        ("__init__", ("init",)),
        ("x", ("x",)),
        ("MAX_SIZE", ("max_size", "max", "size")),
    ],
)
def test_split_identifier(identifier: str, expected: tuple[str, ...]) -> None:
    assert split_identifier(identifier) == expected


def test_words_count_identifier_parts() -> None:
    counts = words(b"parse_config(path)\nParseConfig = parse_config\nx = 1")
    assert counts["parse_config"] == 2
    assert counts["parse"] == 3 and counts["config"] == 3
    assert counts["parseconfig"] == 1
    assert "x" not in counts  # one-letter terms say nothing


def test_words_are_the_identifiers_a_regular_expression_finds() -> None:
    """Identifiers start with a letter or ``_``: leading digits are not part of one, and
    bytes outside ASCII (UTF-8, Latin-1) end one."""
    counts = words(b"2x 10px x2 __init__ caf\xc3\xa9_name na\xefve 123 0x1F HTTPServer")
    assert counts == {
        "px": 1, "x2": 1, "init": 1, "caf": 1, "name": 1, "na": 1, "ve": 1,
        "x1f": 1, "httpserver": 1, "http": 1, "server": 1,
    }  # fmt: skip


def test_unsupported_language_gets_words_and_is_ranked_by_path(tmp_path: Path) -> None:
    assert extract(b"(defun frobnicate (x) x)", None) == (
        [],
        {},
        {"defun": 1, "frobnicate": 1},
        False,
    )
    root = tmp_path / "proj"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "deployment.rst").write_text("How to ship the frobnicator.\n")
    (root / "main.py").write_text("def main():\n    pass\n")
    index = CodeIndex(root, Store(tmp_path / "index.sqlite"))
    index.refresh()
    assert set(index.model.files) == {"docs/deployment.rst", "main.py"}
    assert index.model.files["docs/deployment.rst"][1] is None
    assert index.outline("docs/deployment.rst") == []
    assert index.ranking("frobnicator")[0][0] == "docs/deployment.rst"
    assert index.ranking("deployment")[0][0] == "docs/deployment.rst"


@pytest.mark.parametrize(
    ("language", "source", "name", "signature"),
    [
        (
            "python",
            b"class A:\n    def get(  # type: ignore[override]\n        self,\n"
            b"        params: _t.ParamsType,\n    ) -> None:\n        pass\n",
            "get",
            "def get(self, params: _t.ParamsType) -> None:",
        ),
        ("python", b"def f(key=(1,), *, x=[1,]):\n    pass\n", "f", "def f(key=(1,), *, x=[1]):"),
        (
            "javascript",
            b"function load(url, // where\n  options,\n) {}\n",
            "load",
            "function load(url, options)",
        ),
        (
            "typescript",
            b"function pick<T,>(\n  items: T[], /* all */\n  n: number,\n): T[] { return items }\n",
            "pick",
            "function pick<T>(items: T[], n: number): T[]",
        ),
        (
            "go",
            b"package p\n\nfunc Open(\n\tpath string, // file\n\tmode int,\n) error {\n"
            b"\treturn nil\n}\n",
            "Open",
            "func Open(path string, mode int) error",
        ),
        (
            "rust",
            b"fn pair(\n    a: i32, // left\n    b: (i32,),\n) -> i32 { a }\n",
            "pair",
            "fn pair(a: i32, b: (i32,)) -> i32",
        ),
        (
            "java",
            b"class A { int add(int a, /* b */ int b) { return a; } }\n",
            "add",
            "int add(int a, int b)",
        ),
        (
            "c",
            b"int add(int a, /* b */\n        int b) { return a; }\n",
            "add",
            "int add(int a, int b)",
        ),
        (
            "php",
            b"<?php\nfunction send($to, // who\n  $body,\n): bool { return true; }\n",
            "send",
            "function send($to, $body): bool",
        ),
        (
            "ruby",
            b"def greet(name, # who\n          greeting)\n  name\nend\n",
            "greet",
            "def greet(name, greeting)",
        ),
    ],
)
def test_signatures_drop_comments_and_trailing_commas(
    language: str, source: bytes, name: str, signature: str
) -> None:
    defs, _, _, broken = extract(source, language)
    assert not broken
    assert by_name(defs)[name][5] == signature


def test_latin1_names_are_decoded_as_the_file_tools_decode_them(tmp_path: Path) -> None:
    data = "class Crème:\n    pass\n\n\ndef café_name():\n    return Crème()\n".encode("latin-1")
    defs, refs, _, broken = extract(data, "python")
    assert not broken
    assert [(d[0], d[5]) for d in defs] == [
        ("Crème", "class Crème:"),
        ("café_name", "def café_name():"),
    ]
    assert refs == {"Crème": 1}
    root = tmp_path / "proj"
    root.mkdir()
    (root / "menu.py").write_bytes(data)
    index = CodeIndex(root, Store(tmp_path / "index.sqlite"))
    index.refresh()
    assert [d.text for d in index.definitions("café_name")] == ["def café_name():"]
    uses = index.uses("Crème")
    assert uses.total == 1 and [(u.path, u.line, u.text) for u in uses.lines] == [
        ("menu.py", 6, "return Crème()")
    ]


DECORATORS = b"""def retry(times):
    def decorator(function):
        def wrapper(*args):
            return function(*args)

        return wrapper

    return decorator


class Client:
    def send(self, request):
        def attempt():
            return request

        class Local:
            pass

        return attempt()
"""


def test_the_map_leaves_out_what_is_local_to_a_function(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "client.py").write_bytes(DECORATORS)
    (root / "helpers.js").write_text(
        "export function outer(a) {\n  function inner(b) { return b }\n"
        "  const arrow = (c) => c\n  return inner(a)\n}\n"
    )
    index = CodeIndex(root, Store(tmp_path / "index.sqlite"))
    index.refresh()
    shown = index.repo_map("", tokens=4000)
    assert "def retry(times):" in shown and "def send(self, request):" in shown
    assert "function outer(a)" in shown
    for local in ("decorator", "wrapper", "attempt", "Local", "inner", "arrow"):
        assert local not in shown
    assert "more" not in shown  # nothing public was left out
    # They are still definitions: the outline and find_symbol know them.
    assert [d.path for d in index.definitions("wrapper")] == ["client.py"]
    assert [d[0] for d in index.outline("client.py") or []] == [
        "retry", "decorator", "wrapper", "Client", "send", "attempt", "Local",
    ]  # fmt: skip
