"""The prod overlay's Ingress, read as ingress-nginx applies it with `use-regex` (every path a
case-insensitive regex from the start, the longest path tried first): every path a service's
HTTP API serves, and every path contract 8 promises, lands on that service, and the links the
services write from KEFU_PUBLIC_URL, KEFU_NOTIFY_URL, KEFU_ANALYTICS_URL and KEFU_WORKSPACE_URL
name the Ingress's one host and land on the service that made them."""

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from kefu.services.analytics.http import analytics_api, ticket_link
from kefu.services.intake.http import DOORS
from kefu.services.notify.handling import Notify
from kefu.services.notify.http import notify_api
from kefu.services.notify.plan import Notification
from kefu.services.survey.http import survey_pages
from kefu.services.survey.tokens import LinkSubject, SurveyLinks
from kefu.services.workspace.app import build as build_workspace
from kefu.shared.customer_links import customer_link
from kefu.shared.settings import Settings
from tests.deploy.manifests import kefu_env, of_kind, rendered

SECRET = "s" * 32
USE_REGEX = "nginx.ingress.kubernetes.io/use-regex"
# Paths two apps serve: on the public host they are the desk's (contract 8); analytics'
# dashboard and its queue count are at /dashboard/ and /dashboard/v1/queue there.
SHADOWED = {"/": "kefu-workspace", "/v1/queue": "kefu-workspace"}
PROMISED = {  # whether or not the apps serve them yet
    "kefu-workspace": [
        "/",
        "/t/token",
        "/desk/tickets/1001",
        "/desk/static/desk.css",
        "/v1/people/li.wei",
        "/v1/sessions",
        "/v1/me/tickets",
        "/v1/queue",
        "/v1/search",
        "/v1/macros/m-1",
        "/v1/audit",
        "/v1/commands/c-1",
        "/v1/tickets/1001/conversation",
        "/v1/tickets/1001/actions",
        "/v1/tickets/1001/macros/m-1",
    ],
    "kefu-analytics": ["/v1/tickets", "/v1/tickets/1001", "/dashboard", "/dashboard/v1/queue"],
}


def ingress() -> dict[str, Any]:
    [found] = of_kind(rendered("overlays/prod"), "Ingress")
    return found


def backend(host: str, path: str) -> str | None:
    """The Service ingress-nginx sends `host` + `path` to: with `use-regex` it writes each
    path, whatever its type, as `location ~* "^<path>"`, sorted by path, then longest first,
    and nginx takes the first regex that matches."""
    found = ingress()
    assert found["spec"]["ingressClassName"] == "nginx"
    assert found["metadata"]["annotations"][USE_REGEX] == "true"
    candidates = [
        candidate
        for rule in found["spec"]["rules"]
        if rule.get("host") == host
        for candidate in rule["http"]["paths"]
    ]
    candidates.sort(key=lambda c: c["path"], reverse=True)
    candidates.sort(key=lambda c: len(c["path"]), reverse=True)
    for candidate in candidates:
        if re.match(candidate["path"], path, re.IGNORECASE):
            return candidate["backend"]["service"]["name"]
    return None


def served(api: FastAPI) -> set[str]:
    """Every path an app answers, in its OpenAPI document or not, in included routers too."""
    return {route.path for route in iter_route_contexts(api.routes) if route.path}


def settings() -> Settings:
    env = kefu_env(rendered("overlays/prod"))
    names = ("public_url", "notify_url", "analytics_url", "workspace_url")
    urls = {name: env[f"KEFU_{name.upper()}"] for name in names}
    return Settings(**urls, notify_secret=SECRET, survey_secret=SECRET, auth_secret=SECRET)


def test_every_public_path_reaches_the_service_that_serves_it() -> None:
    [host] = ingress()["spec"]["tls"][0]["hosts"]
    no_store: Any = None  # the routes only, no request is served
    # the workspace as its app builds it (its API takes each part's store); nothing connects
    workspace = build_workspace(settings()).fallback
    paths = {
        "kefu-survey": served(
            survey_pages(no_store, SurveyLinks(SECRET, "https://" + host), 10_000)
        ),
        "kefu-notify": served(notify_api(no_store, settings())) - {"/openapi.json"},
        "kefu-analytics": served(analytics_api(no_store, settings())),
        "kefu-intake": set(DOORS),
        "kefu-workspace": served(workspace) - {"/openapi.json"},
    }
    for service, templates in paths.items():
        for template in templates:
            path = template.replace("{", "").replace("}", "")  # /s/{token} → /s/token
            assert backend(host, path) == SHADOWED.get(path, service), template
    for service, promised in PROMISED.items():
        for path in promised:
            assert backend(host, path) == service, path
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
        "kefu-workspace": customer_link(settings(), "1001"),
    }
    [host] = ingress()["spec"]["tls"][0]["hosts"]
    for service, link in made.items():
        assert link, service
        url = urlsplit(link)
        assert (url.scheme, url.netloc) == ("https", host), link
        assert backend(host, url.path) == service, link
