"""What an Azure IP rule (storage, Key Vault, container registry, Azure ML workspace) accepts.

Standard library only: the Azure test double loads it on every `az` call.
"""

from __future__ import annotations

import ipaddress

# Azure ML's limit of IP rules per workspace ("Each Azure Machine Learning workspace supports up
# to 200 rules"); storage takes 400, Key Vault 1,000.
MAX_IP_RULES = 200

# "IP network rules are allowed only for public internet IP addresses" (Azure ML's private-link
# page; storage's network-security page names RFC 1918's ranges): the reserved IPv4 ranges that
# page links to (Wikipedia, "Reserved IP addresses", its IPv4 table; 233.252.0.0/24 and
# 255.255.255.255/32 lie inside 224.0.0.0/4 and 240.0.0.0/4). A rule overlapping one is refused
# whole: it would admit reserved addresses.
RESERVED_IPV4 = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # this network
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1 (documentation)
        "192.88.99.0/24",  # former 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2 (documentation)
        "203.0.113.0/24",  # TEST-NET-3 (documentation)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved for future use, and the limited broadcast address
    )
)


def reserved_overlap(network: ipaddress.IPv4Network) -> ipaddress.IPv4Network | None:
    """The reserved range `network` is in or overlaps, if any."""
    return next((block for block in RESERVED_IPV4 if network.overlaps(block)), None)


def allowed_address(value: str) -> str:
    """One entry of `forge:allowedIps` as every IP rule takes it: a single address without `/32`
    (storage refuses /31 and /32 ranges and wants the bare address), a range by its network
    address. Raises ValueError for what no Azure IP rule accepts."""
    network = ipaddress.IPv4Network(value.strip(), strict=False)
    reserved = reserved_overlap(network)
    if reserved is not None:
        raise ValueError(
            f"{value} is in or overlaps the reserved range {reserved}: IP rules take public internet addresses only"
        )
    if network.prefixlen == 31:
        raise ValueError(f"{value}: a /31 range is refused by storage rules; list its two addresses")
    return str(network.network_address) if network.prefixlen == 32 else str(network)
