"""One hub replica: control reader, ingress and router stages, health and metrics over HTTP.

Run as many replicas as there are partitions to share: each stage is a consumer group, so
replicas split the partitions between them and take over those of a replica that stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub import metrics
from hub.control import ControlReader, ControlState
from hub.control_signatures import ControlTrust, load_trust
from hub.core import Keyring
from hub.core.keyring import DEFAULT_TOKEN_TTL_SECONDS
from hub.core.state import RatePolicy
from hub.ingress import Ingress
from hub.layout import guard as guard_layout
from hub.router import Router
from hub.stage import Stage, StageConfig
from hub.topics import OUT_PATTERN, PERSONS, TopicLayout, ensure_topics
from renkei.logs import get_logger

log = get_logger("hub.service")

INGRESS_GROUP = "renkei-hub-ingress"
ROUTER_GROUP = "renkei-hub-router"


def default_replica_id() -> str:
    """host-pid-random: unique among the replicas of one cluster, even in one process (tests)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


@dataclass
class HubConfig:
    bootstrap: str
    layout: TopicLayout = field(default_factory=TopicLayout)
    batch_max: int = 500
    linger_ms: int = 20
    http_port: int | None = None  # /healthz, /readyz, /metrics; None: no HTTP server
    http_host: str = "127.0.0.1"  # 0.0.0.0 in a container, so probes and scrapes reach it
    rate_policy: RatePolicy = field(default_factory=RatePolicy)
    # How long a crashed replica keeps its partitions before the group gives them away.
    session_timeout_ms: int = 10_000
    # Which stages this process runs: both (default), or one, to give each its own core.
    stages: tuple[str, ...] = ("ingress", "router")
    # Public keys control commands must be signed with; None: from RENKEI_*_PUBLIC_KEY_FILE.
    control_trust: ControlTrust | None = None
    # How long a provider has to answer a query: also how long its reply token lives. Past it
    # the requester gets PROVIDER_TIMEOUT and a later answer is dead-lettered (DOMAIN.md §12).
    provider_timeout_s: int = DEFAULT_TOKEN_TTL_SECONDS
    # This replica's name in its control acknowledgements and, as the Kafka client id of its
    # stages' consumers, in the hub's consumer groups (how operators' commands find it live).
    replica_id: str = field(default_factory=default_replica_id)


class Hub:
    def __init__(self, config: HubConfig, keys: Keyring) -> None:
        if config.provider_timeout_s < 1:
            raise ValueError("the provider timeout must be at least one second")
        self.config = config
        keys = replace(keys, token_ttl_seconds=config.provider_timeout_s)
        self.keys = keys
        self.control = ControlState(rate_policy=config.rate_policy)
        # the operators' and the oversight body's public keys (ControlKeyError if unset)
        trust = config.control_trust or load_trust()
        self.control_reader = ControlReader(
            config.bootstrap, self.control, trust, replica=config.replica_id
        )

        def stage(name: str, group: str, **subscription: Any) -> StageConfig:
            return StageConfig(
                name=name,
                bootstrap=config.bootstrap,
                group_id=group,
                batch_max=config.batch_max,
                linger_ms=config.linger_ms,
                consumer_options={
                    "client_id": config.replica_id,
                    "session_timeout_ms": config.session_timeout_ms,
                    "heartbeat_interval_ms": max(500, config.session_timeout_ms // 5),
                },
                **subscription,
            )

        self.ingress = Stage(
            stage("ingress", INGRESS_GROUP, pattern=OUT_PATTERN),
            Ingress(keys, self.control.agencies),
        )
        self.router = Stage(
            stage("router", ROUTER_GROUP, topics=[PERSONS]),
            Router(config.bootstrap, keys, self.control, partitions=config.layout.hub_partitions),
        )
        self._http: asyncio.Server | None = None
        self.started = asyncio.Event()

    @property
    def stages(self) -> list[Stage]:
        chosen = self.config.stages
        return [s for s in (self.ingress, self.router) if s.config.name in chosen]

    @property
    def ready(self) -> bool:
        """Control state loaded and still followed, and every stage processing every partition
        it was assigned."""
        return (
            self.control_reader.running
            and self.control_reader.caught_up.is_set()
            and all(s.ready.is_set() for s in self.stages)
            and not self.not_processing()
        )

    def not_processing(self) -> list[str]:
        """`stage topic/partition` of each assigned partition that is not processing."""
        return [
            f"{stage.config.name} {tp.topic}/{tp.partition}"
            for stage in self.stages
            for tp in stage.not_processing()
        ]

    async def run(self) -> None:
        """Run until `stop()` (or SIGTERM/SIGINT when installed by the CLI)."""
        await ensure_topics(self.config.bootstrap, self.config.layout.hub_topics())
        await guard_layout(self.config.bootstrap, self.config.layout.hub_partitions)
        await self.control_reader.start()
        if self.config.http_port is not None:
            self._http = await asyncio.start_server(
                self._serve_http, self.config.http_host, self.config.http_port
            )
        self.started.set()
        log.info("hub started", table=self.control.table.version,
                 phase=self.control.rollout.phase)  # fmt: skip
        try:
            await asyncio.gather(*(s.run() for s in self.stages), self._watch_lag())
        finally:
            await self.control_reader.stop()
            if self._http is not None:
                self._http.close()
                await self._http.wait_closed()
            log.info("hub stopped")

    def stop(self) -> None:
        """Graceful: stop fetching, finish and commit the open transactions, leave the groups."""
        self.ingress.stop()
        self.router.stop()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)

    async def _watch_lag(self) -> None:
        while not all(s.stopping for s in self.stages):
            metrics.ROLLOUT_PHASE.set(self.control.rollout.phase)
            for stage in self.stages:
                with contextlib.suppress(Exception):
                    for tp, lag in (await stage.lag()).items():
                        metrics.CONSUMER_LAG.labels(
                            stage.config.name, f"{tp.topic}/{tp.partition}"
                        ).set(lag)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_stopping(), timeout=5)

    async def _all_stopping(self) -> None:
        for stage in self.stages:
            await stage.wait_stopping()

    async def _serve_http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            path = request_line.decode("latin-1").split(" ")[1] if request_line else "/"
            if path == "/metrics":
                status, body, ctype = "200 OK", generate_latest(), CONTENT_TYPE_LATEST
            elif path == "/healthz":
                status, body, ctype = "200 OK", b"ok\n", "text/plain"
            elif path == "/readyz":
                ok = self.ready
                status = "200 OK" if ok else "503 Service Unavailable"
                waiting = "".join(f"not processing: {p}\n" for p in self.not_processing())
                if not self.control_reader.running:
                    waiting = "control reader stopped\n" + waiting
                body = b"ready\n" if ok else f"not ready\n{waiting}".encode()
                ctype = "text/plain"
            else:
                status, body, ctype = "404 Not Found", b"not found\n", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, IndexError, ConnectionError):
            pass
        finally:
            writer.close()
