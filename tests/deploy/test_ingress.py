"""The prod overlay's Ingress, read as Kubernetes applies it (the longest matching path wins,
Exact before Prefix): every path a service's HTTP API serves lands on that service, and the
links the services write from KEFU_PUBLIC_URL, KEFU_NOTIFY_URL and KEFU_ANALYTICS_URL name
the Ingress's one host and land on the service that made them."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.routing import APIRoute

from kefu.services.analytics.api import analytics_api, ticket_link
from kefu.services.intake.http import DOORS
from kefu.services.notify.handling import Notify
from kefu.services.notify.http import notify_api
from kefu.services.notify.plan import Notification
from kefu.services.survey.http import survey_pages
from kefu.services.survey.tokens import LinkSubject, SurveyLinks
from kefu.shared.settings import Settings
from tests.deploy.manifests import kefu_env, of_kind, rendered

SECRET = "s" * 32


def ingress() -> dict[str, Any]:
    [found] = of_kind(rendered("overlays/prod"), "Ingress")
    return found["spec"]


def backend(host: str, path: str) -> str | None:
    """The Service the Ingress sends `host` + `path` to."""
    matches = []
    for rule in ingress()["rules"]:
        for candidate in rule["http"]["paths"] if rule.get("host") == host else []:
            wanted = candidate["path"]
            if candidate["pathType"] == "Exact":
                matched = path == wanted
            else:  # element by element: /v1/inbound matches /v1/inbound/agent, not /v1/inboundx
                elements = [e for e in wanted.split("/") if e]
                matched = [e for e in path.split("/") if e][: len(elements)] == elements
            if matched:
                exact = candidate["pathType"] == "Exact"
                matches.append((len(wanted.rstrip("/")), exact, candidate["backend"]["service"]))
    return max(matches)[2]["name"] if matches else None


def served(api: FastAPI) -> set[str]:
    """The paths an app answers: its OpenAPI document's, its pages left out of it, the document."""
    pages = {route.path for route in api.routes if isinstance(route, APIRoute)}
    return set(api.openapi()["paths"]) | pages | ({api.openapi_url} - {None})


def settings() -> Settings:
    env = kefu_env(rendered("overlays/prod"))
    urls = {
        name: env[f"KEFU_{name.upper()}"] for name in ("public_url", "notify_url", "analytics_url")
    }
    return Settings(**urls, notify_secret=SECRET, survey_secret=SECRET)


def test_every_public_path_reaches_the_service_that_serves_it() -> None:
    [host] = ingress()["tls"][0]["hosts"]
    no_store: Any = None  # the routes only, no request is served
    paths = {
        "kefu-survey": served(survey_pages(no_store, SurveyLinks(SECRET, "https://" + host))),
        "kefu-notify": served(notify_api(no_store, settings())) - {"/openapi.json"},
        "kefu-analytics": served(analytics_api(no_store, settings())),
        "kefu-intake": set(DOORS),
    }
    for service, templates in paths.items():
        for template in templates:
            path = template.replace("{", "").replace("}", "")  # /s/{token} → /s/token
            assert backend(host, path) == service, template
    for inside in ("/metrics", "/healthz", "/readyz"):
        assert backend(host, inside) is None


def test_the_links_the_services_write_land_on_the_service_that_made_them() -> None:
    now = datetime.now(UTC)
    note = Notification(
        id="n-1",
        ticket_id="1001",
        audience="customer",
        channel="email",
        to="jane@example.com",
        template="opened",
        locale="en",
        due_at=now,
    )
    notify: Any = SimpleNamespace(settings=settings())  # all that building the links reads
    made = {  # each the way the service itself builds it
        "kefu-survey": SurveyLinks(SECRET, settings().public_url).url(
            LinkSubject("1001", "1001-1", now)
        ),
        "kefu-notify": Notify._params(notify, note, None)["unsubscribe_url"],
        "kefu-analytics": ticket_link(settings())("1001"),
    }
    [host] = ingress()["tls"][0]["hosts"]
    for service, link in made.items():
        url = urlsplit(link)
        assert (url.scheme, url.netloc) == ("https", host), link
        assert backend(host, url.path) == service, link
