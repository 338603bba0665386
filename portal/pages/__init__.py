"""The person's pages: sign-in, records (with downloads), notices, consents, proxies.

Every query is bounded by the signed-in person's own link code (or, for a proxy, by a grant
`portal.access` accepted); ids in a URL or a form only ever select among those rows, so an id
that belongs to someone else finds nothing and is answered as not found.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from portal.pages.consents import consents_page, give_consent, issue_token, withdraw_consent
from portal.pages.notices import notice_page, notices_page
from portal.pages.proxies import decide_proxy, proxies_page, register_proxy, revoke_proxy
from portal.pages.records import act_for, records_csv, records_json, records_page
from portal.pages.signin import choose_language, home, signin, signin_page, signout


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/language/{language}", choose_language),
        Route("/records", records_page),
        Route("/records.csv", records_csv),
        Route("/records.json", records_json),
        Route("/act-for", act_for, methods=["POST"]),
        Route("/notices", notices_page),
        Route("/notices/{notice_id}", notice_page),
        Route("/consents", consents_page, methods=["GET"]),
        Route("/consents/give", give_consent, methods=["POST"]),
        Route("/consents/withdraw", withdraw_consent, methods=["POST"]),
        Route("/consents/token", issue_token, methods=["POST"]),
        Route("/proxies", proxies_page, methods=["GET"]),
        Route("/proxies/register", register_proxy, methods=["POST"]),
        Route("/proxies/decide", decide_proxy, methods=["POST"]),
        Route("/proxies/revoke", revoke_proxy, methods=["POST"]),
    ]
