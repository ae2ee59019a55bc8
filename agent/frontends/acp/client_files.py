"""Files read and written through the editor (``fs/read_text_file``, ``fs/write_text_file``),
so the agent sees unsaved changes and its edits land in the editor's buffers."""

from __future__ import annotations

from pathlib import Path

from acp import Client, RequestError

from tools.base import ToolError


class EditorFiles:
    """The ``FileAccess`` of an ACP session whose client serves both reads and writes (with
    only one of them, reading a buffer and writing the disk would disagree, so the local
    tools are used). The tools confine paths (workspace, secrets, .git) before either
    method is called."""

    def __init__(self, client: Client, session_id: str) -> None:
        self.client = client
        self.session_id = session_id

    async def read(self, path: Path) -> str:
        try:
            answer = await self.client.read_text_file(session_id=self.session_id, path=str(path))
        except RequestError as error:
            raise ToolError(f"The editor could not read {path.name}: {error}.") from None
        return answer.content

    async def write(self, path: Path, text: str) -> None:
        try:
            await self.client.write_text_file(
                session_id=self.session_id, path=str(path), content=text
            )
        except RequestError as error:
            raise ToolError(f"The editor could not write {path.name}: {error}.") from None
