"""A complete agency adapter (the README's): `python -m consumers.example localhost:9092`."""

from __future__ import annotations

import asyncio
import sys

from consumers import Agency, AgencyConfig, Gap, Values
from producers import Connection
from schemas.models import AttributeQuery, IncomeDetermined

PENSIONS: dict[bytes, int] = {}  # link code -> annual benefit (JPY); your database in reality

bootstrap = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"
agency = Agency(AgencyConfig("jps", Connection.from_environment(bootstrap), key_id="jps-2026-01"))


@agency.query("pension_benefit_amount")
async def pension(query: AttributeQuery) -> Values:
    return {"pension_benefit_amount": PENSIONS.get(query.person_code)}  # None -> not_held


@agency.on(IncomeDetermined)
async def income_final(event: IncomeDetermined) -> None:
    print("income determined for fiscal year", event.fiscal_year)


@agency.on_gap
async def gap(gap: Gap) -> None:
    print(f"missed {gap.missing} message(s) on stream {gap.stream}")


if __name__ == "__main__":
    asyncio.run(agency.run())
