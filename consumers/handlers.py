"""The agency's handlers: typed callbacks registered with decorators, and the dispatch rules.

Queries (`AttributeQuery`) are answered per attribute. For each requested attribute the
handler is, in this order: one registered for that attribute *and* the query's purpose; one
registered for the whole purpose; one registered for that attribute under any purpose. Each
handler is called once per query and returns the values it holds as a mapping
name -> value (typed per the attribute catalogue); an attribute no handler holds, or that its
handler leaves out or maps to None, goes to `not_held`. The SDK sends only the attributes the
query asked for, and refuses (`InvalidAnswer`) a value that is not of the catalogue's type,
before anything leaves the agency.

Every other inbound message type (events, notices, acknowledgements, provision records) has at
most one handler, registered with `on(Model)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from consumers.errors import HandlerConflict, InvalidAnswer
from consumers.sequence import Gap
from schemas.catalogue import Catalogue, default_catalogue
from schemas.models import AttributeData, AttributeQuery, AttributeValue, Message

M = TypeVar("M", bound=Message)

Values = Mapping[str, AttributeData | None]
QueryHandler = Callable[[AttributeQuery], Awaitable[Values]]
"""async def handler(query) -> {attribute name: value}: the values this agency holds."""
MessageHandler = Callable[[M], Awaitable[None]]
GapHandler = Callable[[Gap], Awaitable[None]]

Q = TypeVar("Q", bound=QueryHandler)
G = TypeVar("G", bound=GapHandler)


class Handlers:
    """Registry of one agency's handlers."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue if catalogue is not None else default_catalogue()
        self._for_purpose_attribute: dict[tuple[str, str], QueryHandler] = {}
        self._for_purpose: dict[str, QueryHandler] = {}
        self._for_attribute: dict[str, QueryHandler] = {}
        self._messages: dict[type[Message], Callable[[Any], Awaitable[None]]] = {}
        self.gap_handlers: list[GapHandler] = []

    # ---- registration -------------------------------------------------------------------

    def query(self, *attributes: str, purpose: str | None = None) -> Callable[[Q], Q]:
        """Register a query handler for some attributes, a purpose, or both."""
        if not attributes and purpose is None:
            raise HandlerConflict("a query handler names attributes, a purpose, or both")
        unknown = [name for name in attributes if name not in self.catalogue]
        if unknown:
            raise HandlerConflict(f"not in the attribute catalogue: {', '.join(unknown)}")

        def register(handler: Q) -> Q:
            keys: list[tuple[dict[Any, QueryHandler], Any]]
            if purpose is None:
                keys = [(self._for_attribute, name) for name in attributes]
            elif attributes:
                keys = [(self._for_purpose_attribute, (purpose, name)) for name in attributes]
            else:
                keys = [(self._for_purpose, purpose)]
            taken = [key for table, key in keys if key in table]
            if taken:
                raise HandlerConflict(f"a query handler is already registered for {taken}")
            for table, key in keys:
                table[key] = handler
            return handler

        return register

    def on(self, model: type[M]) -> Callable[[MessageHandler[M]], MessageHandler[M]]:
        """Register the handler of one inbound message type (an event, Notice, …)."""

        def register(handler: MessageHandler[M]) -> MessageHandler[M]:
            if model in self._messages:
                raise HandlerConflict(f"a handler is already registered for {model.__name__}")
            self._messages[model] = handler
            return handler

        return register

    def on_gap(self, handler: G) -> G:
        """Register a callback for gaps in the hub's delivery sequence."""
        self.gap_handlers.append(handler)
        return handler

    # ---- dispatch -----------------------------------------------------------------------

    def handler_for(self, message: Message) -> Callable[[Any], Awaitable[None]] | None:
        return self._messages.get(type(message))

    def _query_handler(self, purpose: str, name: str) -> QueryHandler | None:
        return (
            self._for_purpose_attribute.get((purpose, name))
            or self._for_purpose.get(purpose)
            or self._for_attribute.get(name)
        )

    async def answer(self, query: AttributeQuery) -> tuple[list[AttributeValue], list[str]]:
        """(values, not_held) for `query`, in the order it asked for them."""
        assigned: dict[QueryHandler, list[str]] = {}
        for name in dict.fromkeys(query.attributes):
            handler = self._query_handler(query.purpose, name)
            if handler is not None:
                assigned.setdefault(handler, []).append(name)
        held: dict[str, AttributeData] = {}
        for handler, names in assigned.items():
            returned = await handler(query)
            for name in names:
                value = returned.get(name)
                if value is None:
                    continue
                if not self.catalogue.conforms(name, value):
                    raise InvalidAnswer(
                        f"{name}: the handler's value is not of the catalogue's type "
                        f"({type(value).__name__})"
                    )
                held[name] = value
        asked = list(dict.fromkeys(query.attributes))
        values = [AttributeValue(name=n, value=held[n]) for n in asked if n in held]
        not_held = [n for n in asked if n not in held]
        return values, not_held
