"""`async with` for anything that has `start()` and `stop()` (publisher, producer, agency)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Lifecycle:
    """Mix-in: `async with x:` starts x and stops it on the way out, whatever happened."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
