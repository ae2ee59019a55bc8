"""The tools the model can call, by name: the one list to extend when adding a tool."""

from __future__ import annotations

from tools.base import Tool
from tools.code import FileOutline, FindSymbol, RepoMap
from tools.edit import EditFile
from tools.files import ListFiles, ReadFile, WriteFile
from tools.git import Git, GitCommit
from tools.plan import UpdatePlan
from tools.search import Grep
from tools.shell import RunCommand
from tools.tests import RunTests

REGISTRY: dict[str, type[Tool]] = {
    tool.name: tool
    for tool in (
        ReadFile,
        ListFiles,
        Grep,
        RepoMap,
        FindSymbol,
        FileOutline,
        EditFile,
        WriteFile,
        RunCommand,
        RunTests,
        Git,
        GitCommit,
        UpdatePlan,
    )
}
