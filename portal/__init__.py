"""マイ・ポータル: the citizen portal as a web application over a read model kept from Kafka.

    async with running_portal(PortalConfig(Connection.from_environment())) as portal:
        print(portal.url)

`create_app(services, extensions=[...])` builds the ASGI app (Starlette); an `Extension` mounts
another role's pages (see `portal.web`). The projector (`portal.projector`) keeps the read model
exactly once; `portal.access` holds the rules of who may see what.
"""

from portal.service import PortalConfig, RunningPortal, running_portal, serve
from portal.web import Account, Extension, NavLink, Services, create_app

__all__ = [
    "Account",
    "Extension",
    "NavLink",
    "PortalConfig",
    "RunningPortal",
    "Services",
    "create_app",
    "running_portal",
    "serve",
]
