"""A person at the portal over HTTP (httpx): signs in, reads pages, submits forms with the
CSRF token the page carried, the way a browser without scripts would."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class PortalClient:
    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, follow_redirects=True, timeout=60)
        self.csrf = ""

    async def close(self) -> None:
        await self.http.aclose()

    async def get(self, path: str, **params: Any) -> httpx.Response:
        response = await self.http.get(path, params=params or None)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(
        self, path: str, data: dict[str, Any], *, csrf: str | None = None
    ) -> httpx.Response:
        form = {**data, "csrf": self.csrf if csrf is None else csrf}
        response = await self.http.post(path, data=form)
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def sign_in(self, credential: str) -> httpx.Response:
        await self.get("/signin")
        response = await self.post("/signin", {"identity": credential})
        assert response.status_code == 200, response.status_code
        assert str(response.url).endswith("/records")
        return response

    async def handle(self) -> str:
        page = await self.get("/proxies")
        found = re.search(r'id="my-handle">([0-9A-F]+)<', page.text)
        assert found is not None
        return found.group(1)
