"""Run one reference agency: `python -m agencies <agency-id> [--bootstrap H:P] [--seed S]
[--persons N] [--no-enrol]`. It enrols its people through the hub, then answers queries until
interrupted; the hub must be running against the same broker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from agencies.population import generate
from agencies.reference import REFERENCE_AGENCY_IDS, reference_agency
from producers import Connection
from renkei.logs import configure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agencies", description=__doc__)
    parser.add_argument("agency", choices=REFERENCE_AGENCY_IDS)
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--no-enrol", action="store_true", help="serve without enrolling")
    args = parser.parse_args(argv)
    configure()
    population = generate(args.seed, args.persons)
    agency = reference_agency(args.agency, Connection.from_environment(args.bootstrap), population)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(agency.run(enrol=not args.no_enrol))


if __name__ == "__main__":
    main()
