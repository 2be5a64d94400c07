"""Address aliases: nicknames for IP addresses and networks, as Message Analyzer's aliases
were, shown in every view (`web01:443` instead of `10.0.0.5:443`) and kept beside the address
in every output (`client.alias`).

Two file formats, told apart by content:

- TOML: `"10.0.0.5" = "web01"` and `"10.1.0.0/16" = "branch office"`, at the top level or
  in an `[aliases]` table;
- hosts-file lines: `10.0.0.5  web01  web01.corp.example` (the first name is the alias),
  `#` starts a comment. A CIDR is accepted in place of the address.

The most specific match wins (a host beats its network). Standard library only; the TOML
reader is imported only to read a file, as every run imports this module.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AliasError(Exception):
    """An aliases file that cannot be used; the message names the file and the line."""


class Aliases:
    """IP or network -> nickname. (A plain class, not a dataclass: start-up time, as for
    `tlslens.limits.Limits`.)"""

    def __init__(self, hosts: dict[str, str] | None = None,
                 networks: list[tuple[Network, str]] | None = None) -> None:  # fmt: skip
        self.hosts: dict[str, str] = {} if hosts is None else hosts
        #: (network, name), most specific (longest prefix) first.
        self.networks: list[tuple[Network, str]] = [] if networks is None else networks
        self._cache: dict[str, str | None] = {}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Aliases) and self.hosts == other.hosts
                and self.networks == other.networks)  # fmt: skip

    def __repr__(self) -> str:
        return f"Aliases(hosts={self.hosts!r}, networks={self.networks!r})"

    def add(self, key: str, name: str) -> None:
        """Raises ValueError when `key` is neither an address nor a network."""
        key = key.strip()
        name = name.strip()
        if not name:
            raise ValueError(f"no name given for {key!r}")
        if "/" in key:
            network = ipaddress.ip_network(key, strict=False)
            if network.num_addresses == 1:
                self.hosts[network.network_address.compressed] = name
            else:
                self.networks.append((network, name))
                self.networks.sort(key=lambda item: -item[0].prefixlen)
        else:
            self.hosts[ipaddress.ip_address(key.strip("[]")).compressed] = name
        self._cache.clear()

    def lookup(self, ip: str) -> str | None:
        """The alias of an address as tlslens prints it (e.g. '10.0.0.5', '::1')."""
        if ip in self._cache:
            return self._cache[ip]
        found = self.hosts.get(ip)
        if found is None and self.networks:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                address = None
            if address is not None:
                version = address.version
                found = next((name for net, name in self.networks
                              if net.version == version and address in net), None)  # fmt: skip
        if len(self._cache) < 100_000:
            self._cache[ip] = found
        return found

    def __len__(self) -> int:
        return len(self.hosts) + len(self.networks)


def _from_toml(path: str, data: dict[str, object]) -> Aliases:
    table = data.get("aliases", data)
    if not isinstance(table, dict):
        raise AliasError(f'{path}: `aliases` must be a table of "address" = "name"')
    aliases = Aliases()
    for key, value in table.items():
        if not isinstance(value, str):
            raise AliasError(f"{path}: the alias of {key!r} must be a string, not {value!r}")
        try:
            aliases.add(key, value)
        except ValueError as exc:
            raise AliasError(f"{path}: {key!r} is not an IP address or network ({exc})") \
                from None  # fmt: skip
    return aliases


def _from_hosts(path: str, text: str) -> Aliases:
    aliases = Aliases()
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2:
            raise AliasError(f"{path}: line {number}: expected an address and a name, got "
                             f"{line.strip()!r}")  # fmt: skip
        try:
            aliases.add(words[0], words[1])
        except ValueError:
            raise AliasError(f"{path}: line {number}: {words[0]!r} is not an IP address or "
                             "network") from None  # fmt: skip
    return aliases


def load_aliases(path: str) -> Aliases:
    """Read an aliases file (TOML or hosts format). Raises AliasError with a clear message."""
    import tomllib

    try:
        with open(path, "rb") as file:
            raw = file.read()
    except OSError as exc:
        raise AliasError(f"{path}: cannot read the aliases file ({exc.strerror or exc})") \
            from None  # fmt: skip
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AliasError(f"{path}: not a text file (expected TOML or hosts-file lines)") \
            from None  # fmt: skip
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        aliases = _from_hosts(path, text)
    else:
        aliases = _from_toml(path, data)
    if not aliases:
        raise AliasError(f"{path}: no aliases found (expected lines like `10.0.0.5 web01`)")
    return aliases
