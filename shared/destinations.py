"""Private destinations (contract 11): a webhook or SMS gateway URL whose host is, or resolves
to, an address that is not public (loopback, link-local, private, …) is refused unless its
policy entry says `allow_private: true`.

The check runs at start (the policy, KEFU_SMS_URL) and again before every send: a name that
does not resolve at start is let through then, and refused at the send where it resolves to
a private address (so is a name whose answer changes to one later, DNS rebinding)."""

import ipaddress
import socket

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# checked in this order: 127.0.0.1 is private too, but "loopback" says more
NOT_PUBLIC = ("unspecified", "loopback", "link_local", "multicast", "reserved", "private")


def not_public(address: IPAddress) -> str | None:
    """What kind of non-public address this is (`loopback`, `link-local`, …), None for a
    public one. An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged by its IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for kind in NOT_PUBLIC:
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "not global"  # e.g. 100.64.0.0/10, shared NAT


def addresses(host: str) -> list[IPAddress]:
    """The addresses `host` is (an IP literal) or resolves to; none when it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))


def private_destination(url: str) -> str | None:
    """Why `url` may not be sent to (its host is or resolves to an address that is not
    public), or None. The host is read by httpx, the parser that sends; a URL it cannot read
    is a ValueError."""
    try:
        host = httpx.URL(url).raw_host.decode("ascii")
    except httpx.InvalidURL as error:
        raise ValueError(f"{url} is not a URL: {error}") from None
    for address in addresses(host):
        if kind := not_public(address):
            where = host if host == str(address) else f"{host} resolves to {address}, which"
            return f"{where} is {kind}"
    return None
