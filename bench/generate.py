#!/usr/bin/env python3
"""Generate large, realistic TLS captures for the benchmarks.

Usage::

    python3 bench/generate.py --profile bulk                  # /tmp/bench/bulk.pcap, ~250 MB
    python3 bench/generate.py --profile handshake             # /tmp/bench/handshake.pcap, ~50 MB
    python3 bench/generate.py --profile bulk --size-mb 1 --out /tmp/bench/tiny.pcap
    python3 bench/generate.py --concat 10 --from /tmp/bench/bulk.pcap   # bulk-x10.pcap, ~2.5 GB
    python3 bench/generate.py --check                         # can this machine generate?

Like tests/fixtures/make.py, the script re-executes itself inside a private network
namespace (``unshare -n`` as root; ``unshare -n --map-current-user --keep-caps`` otherwise,
which needs unprivileged user namespaces), sets ``lo`` to MTU 1500 with TSO, GSO and GRO
switched off (so tcpdump sees wire-sized frames, not 64 KB super-segments), and captures
``lo`` with tcpdump while real TLS clients and servers talk over it: Python's ``ssl``
module on both sides (blocking ``SSLSocket``s) and ``openssl s_server -WWW`` /
``openssl s_client`` processes.  Every address is on loopback: servers on 127.1.0.0/24 and
``[::1]``, clients bound to 127.2.0.0/16.  Nothing leaves the namespace.

What a capture holds (see ``KINDS``): successful TLS 1.0, 1.1, 1.2 and 1.3 connections
with many cipher suites, RSA and ECDSA certificate chains, X25519/P-256/P-384 key shares,
HelloRetryRequest, session resumption (TLS 1.2 session ids, TLS 1.3 tickets), mutual TLS,
HTTP/1.1-style requests (keep-alive, uploads), three ways to close (server close_notify,
client close_notify, bare FIN); failures: protocol_version both ways, no shared cipher,
untrusted (self-signed) and expired certificates, host name mismatch, missing client
certificate, a server that resets after the ClientHello, a plain-HTTP answer to a
ClientHello, refused connections and clients aborting mid-response with RST; and a little
plain HTTP.  Profiles:

* ``bulk``: most bytes are encrypted application data (downloads and uploads of 64 KiB to
  16 MiB), plus about 12 short connections per MB (3,000 in 250 MB) of the mix above.
* ``handshake``: about 160 short connections per MB (8,000 in 50 MB), a few KB each.

The plan (which connection, which peers, versions, ciphers, names, request sizes, client
addresses) is a pure function of ``--profile``, ``--size-mb`` and ``--seed``; the run order
and everything the kernel and TLS choose (ports, sequence numbers, keys, timing) is not.
Sizes are estimates: the file comes out within about 10% of ``--size-mb``.  Next to the
capture, ``NAME.json`` records the plan's counts per kind, what each connection's client
saw (``outcomes``), tcpdump's packet count and the tool versions.

``--concat N`` writes N copies of a capture back to back (``NAME-xN.pcap``): copy k is
shifted in time to start 1 s after copy k-1 ends and has the second octet of every
127.x.y.z address raised by 16*k (IPv4 header checksum recomputed) and, on ``::1``, its
TCP sequence numbers moved by k * 2**28, so each copy's connections are new connections.
That is the 2.5 GB file of the flat-memory check.

Needs: tcpdump, openssl, ip (iproute2), unshare (util-linux >= 2.38 for the non-root way).
It uses only the Python standard library and does not import tlslens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

# The loopback set-up is the fixture generator's (tests/fixtures/loopback.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))
from loopback import ETHTOOL_OFFLOADS, offloads_off

HERE = Path(__file__).resolve()
DEFAULT_DIR = Path("/tmp/bench")
INNER_ENV = "TLSLENS_BENCH_NETNS"
REQUIRED_TOOLS = ("tcpdump", "openssl", "ip", "unshare")

IO_TIMEOUT = 15.0  # every socket operation is bounded by this
FLUSH_WAIT = 2.2  # libpcap's TPACKET_V3 block timeout is 1 s
TCPDUMP_BUFFER_KIB = 131072  # -B: a 128 MiB ring, so bulk bursts are not dropped

# Size model, calibrated on this script's own output (wire bytes per pcap record
# include the 16-byte record header, 14 Ethernet, 20/40 IP and 32 TCP bytes).
APP_FACTOR = 1.09  # capture bytes per byte of application data (headers, ACKs)
REQUEST_BYTES = 260  # one request plus one response header, before APP_FACTOR
HANDSHAKE_CONNS_PER_MB = 160
BULK_SMALL_CONNS_PER_MB = 12
BULK_MIN, BULK_MAX = 64 * 1024, 16 * 1024 * 1024

PROFILES = {"bulk": 250.0, "handshake": 50.0}

SERVER_NET = "127.1.0"
CLIENT_NET = "127.2"
DOMAIN = "bench.test"
HOSTS = ("www", "api", "cdn", "static", "login", "mail", "img", "auth", "shop", "news")
WRONG_HOST = "mismatch.example.net"
EXPIRED_DATES = ("20200101000000Z", "20210101000000Z")
OPENSSL_FILE_SIZES = (1000, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
OPENSSL_FILES = {f"f{n}": n for n in OPENSSL_FILE_SIZES}
PAYLOAD_SIZE = 4 * 1024 * 1024


def log(msg: str) -> None:
    print(f"[generate.py] {msg}", file=sys.stderr, flush=True)


def die(msg: str, code: int = 2) -> NoReturn:
    print(f"generate.py: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


# ---------------------------------------------------------------------------
# Servers and clients: names used by the plan, built inside each worker.
# ---------------------------------------------------------------------------

# name: (address, port, implementation, description).  Every server listens on its
# own loopback address; the Python ones in every worker process at once (SO_REUSEPORT).
SERVERS: dict[str, tuple[str, int, str, str]] = {
    "web": (f"{SERVER_NET}.1", 443, "python", "TLS 1.2-1.3, RSA leaf + intermediate"),
    "ecdsa": (f"{SERVER_NET}.2", 443, "python", "TLS 1.2-1.3, ECDSA P-256 leaf + intermediate"),
    "legacy": (f"{SERVER_NET}.3", 443, "python", "TLS 1.0-1.3, DEFAULT:@SECLEVEL=0"),
    "mtls": (f"{SERVER_NET}.4", 443, "python", "requires a client certificate (CERT_REQUIRED)"),
    "strict": (f"{SERVER_NET}.5", 443, "python", "TLS 1.2+ and ECDHE+AESGCM only"),
    "tls13only": (f"{SERVER_NET}.6", 443, "python", "TLS 1.3 only"),
    "expired": (f"{SERVER_NET}.7", 443, "python", "expired leaf (2020-01-01 to 2021-01-01)"),
    "selfsigned": (f"{SERVER_NET}.8", 443, "python", "self-signed leaf"),
    "hrr": (f"{SERVER_NET}.9", 443, "python", "only secp384r1: X25519 clients get a HRR"),
    "reset": (f"{SERVER_NET}.10", 443, "reset", "reads the ClientHello, then RST"),
    "http": (f"{SERVER_NET}.11", 443, "http400", "answers the ClientHello with HTTP 400"),
    "plain": (f"{SERVER_NET}.12", 80, "plain", "plain HTTP"),
    "imaps": (f"{SERVER_NET}.13", 993, "python", "like web, on port 993"),
    "web6": ("::1", 443, "python", "like web, over IPv6"),
    "ossl13": (f"{SERVER_NET}.20", 443, "openssl", "openssl s_server -WWW, RSA chain"),
    "ossl12ec": (f"{SERVER_NET}.21", 443, "openssl", "openssl s_server -WWW -tls1_2, ECDSA"),
    "ossl-legacy": (
        f"{SERVER_NET}.22",
        443,
        "openssl",
        "openssl s_server -WWW TLS 1.0-1.2, DEFAULT:@SECLEVEL=0, DHE",
    ),
    "refused": (f"{SERVER_NET}.250", 443, "none", "nobody listens: SYN answered by RST"),
}

OPENSSL_SERVER_ARGS = {
    "ossl13": ["-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "inter.pem"],
    "ossl12ec": ["-tls1_2", "-cert", "ecdsa.pem", "-key", "ecdsa.key", "-cert_chain", "inter.pem"],
    "ossl-legacy": [
        "-cert", "leaf.pem", "-key", "leaf.key", "-cert_chain", "inter.pem",
        "-cipher", "DEFAULT:@SECLEVEL=0", "-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2",
    ],
}  # fmt: skip

# Python client configurations: (minimum, maximum, cipher string, curve, client cert, SNI).
V10, V11, V12, V13 = "TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"
CLIENTS: dict[str, tuple[str | None, str | None, str | None, str | None, bool, bool]] = {
    "default": (None, None, None, None, False, True),
    "nosni": (None, None, None, None, False, False),
    "tls13-p256": (V13, None, None, "prime256v1", False, True),
    "tls13-p384": (V13, None, None, "secp384r1", False, True),
    "tls12": (None, V12, None, None, False, True),
    "tls12-aes128": (None, V12, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256", None,
                     False, True),
    "tls12-chacha": (None, V12, "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-CHACHA20-POLY1305", None,
                     False, True),
    "tls12-cbc": (None, V12, "ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA256", None, False,
                  True),
    "tls12-rsakx": (None, V12, "AES128-GCM-SHA256:AES256-SHA256", None, False, True),
    "tls12-dhe": (None, V12, "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384", None, False,
                  True),
    "tls11": (V11, V11, "DEFAULT:@SECLEVEL=0", None, False, True),
    "tls10": (V10, V10, "DEFAULT:@SECLEVEL=0", None, False, True),
    "tls10-old": (V10, V10, "AES128-SHA:@SECLEVEL=0", None, False, True),
    "client-cert": (None, None, None, None, True, True),
    "client-cert12": (None, V12, None, None, True, True),
    "weak-cipher": (None, V12, "AES128-SHA:@SECLEVEL=0", None, False, True),
    "tls12-only": (None, V12, None, None, False, True),
    "wrong-name": (None, None, None, None, False, True),
    "plain": (None, None, None, None, False, False),
}  # fmt: skip

S_CLIENT_ARGS = {
    "s_client-13-chacha": ["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
    "s_client-13-aes128": ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
    "s_client-12-cbc": ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA"],
    "s_client-12-ecdsa": ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"],
    "s_client-11": ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
}


@dataclass(frozen=True)
class Kind:
    """One family of connections: its weights in the two mixes, peers, expected outcome."""

    w_handshake: float
    w_bulk: float
    combos: tuple[tuple[str, str], ...]  # (server, client)
    expect: tuple[str, ...]  # how the client's outcome may start, e.g. ("SSLError",)
    resume: bool = False
    close: tuple[str, ...] = ("server", "client", "fin")


KINDS: dict[str, Kind] = {
    "tls13": Kind(30, 30, (
        ("web", "default"), ("web", "tls13-p256"), ("web", "nosni"), ("ecdsa", "default"),
        ("ecdsa", "tls13-p384"), ("web6", "default"), ("imaps", "default"), ("hrr", "default"),
        ("hrr", "tls13-p384"), ("legacy", "default"),
    ), ("ok",)),
    "tls13-resume": Kind(6, 4, (("web", "default"), ("ecdsa", "default")), ("ok",), resume=True),
    "tls12": Kind(20, 20, (
        ("web", "tls12"), ("web", "tls12-aes128"), ("web", "tls12-chacha"), ("web", "tls12-cbc"),
        ("web", "tls12-rsakx"), ("ecdsa", "tls12"), ("ecdsa", "tls12-aes128"),
        ("ecdsa", "tls12-chacha"), ("legacy", "tls12"), ("imaps", "tls12"), ("web6", "tls12"),
    ), ("ok",)),
    "tls12-resume": Kind(5, 3, (("web", "tls12"), ("legacy", "tls12-cbc")), ("ok",), resume=True),
    "tls11": Kind(3, 4, (("legacy", "tls11"),), ("ok",)),
    "tls10": Kind(3, 4, (("legacy", "tls10"), ("legacy", "tls10-old")), ("ok",)),
    "mtls": Kind(4, 3, (("mtls", "client-cert"), ("mtls", "client-cert12")), ("ok",)),
    "to-openssl": Kind(6, 6, (
        ("ossl13", "default"), ("ossl13", "tls12"), ("ossl12ec", "tls12"),
        ("ossl12ec", "tls12-aes128"), ("ossl-legacy", "tls10"), ("ossl-legacy", "tls11"),
        ("ossl-legacy", "tls12-dhe"),
    ), ("ok",), close=("server",)),
    "from-openssl": Kind(2.5, 2.5, (
        ("web", "s_client-13-chacha"), ("web", "s_client-13-aes128"), ("web", "s_client-12-cbc"),
        ("ecdsa", "s_client-12-ecdsa"), ("legacy", "s_client-11"),
    ), ("ok",), close=("server",)),
    "plain-http": Kind(2, 2, (("plain", "plain"),), ("ok",), close=("server", "fin")),
    "fail-version-old": Kind(1.5, 1, (("strict", "tls10"), ("tls13only", "tls11")), ("SSLError",)),
    "fail-version-new": Kind(1, 0.5, (("tls13only", "tls12-only"),), ("SSLError",)),
    "fail-cipher": Kind(1.5, 1, (("strict", "weak-cipher"),), ("SSLError",)),
    "fail-unknown-ca": Kind(1.5, 1, (("selfsigned", "default"), ("selfsigned", "tls12")),
                            ("SSLCertVerificationError",)),
    "fail-expired": Kind(1.5, 1, (("expired", "default"), ("expired", "tls12")),
                         ("SSLCertVerificationError",)),
    "fail-hostname": Kind(1, 0.5, (("web", "wrong-name"),), ("SSLCertVerificationError",)),
    "fail-no-client-cert": Kind(1, 0.5, (("mtls", "default"), ("mtls", "tls12")), ("SSLError",)),
    "fail-reset": Kind(1, 1, (("reset", "default"), ("reset", "tls12")),
                       ("reset", "SSLError", "SSLEOFError")),
    "fail-http": Kind(0.5, 0.5, (("http", "default"),), ("SSLError",)),
    "fail-refused": Kind(0.5, 0.5, (("refused", "default"),), ("ConnectionRefusedError",)),
    "abort-rst": Kind(1, 1, (("web", "default"), ("web", "tls12")), ("aborted",)),
}  # fmt: skip

BULK_COMBOS = (
    ("web", "default"), ("ecdsa", "default"), ("web6", "default"), ("web", "tls12"),
    ("web", "tls12-chacha"), ("ecdsa", "tls12-aes128"), ("legacy", "tls12-cbc"),
    ("legacy", "tls11"), ("legacy", "tls10"), ("ossl13", "default"), ("ossl12ec", "tls12"),
    ("ossl-legacy", "tls12-dhe"), ("mtls", "client-cert"),
)  # fmt: skip
BULK_WEIGHTS = (22, 10, 5, 14, 6, 6, 6, 3, 3, 10, 6, 4, 5)

# Capture bytes of one connection of each kind besides its application data (handshake,
# one request and response header, close, ACKs), measured on this script's own output.
OVERHEAD = {
    "tls13": 5770, "tls13-resume": 4130, "tls12": 4540, "tls12-resume": 4100, "tls11": 4900,
    "tls10": 4790, "mtls": 8760, "to-openssl": 4410, "from-openssl": 4520, "plain-http": 1180,
    "fail-version-old": 970, "fail-version-new": 1030, "fail-cipher": 990,
    "fail-unknown-ca": 2460, "fail-expired": 3520, "fail-hostname": 3770,
    "fail-no-client-cert": 3940, "fail-reset": 860, "fail-http": 1370, "fail-refused": 160,
    "abort-rst": 3330, "bulk": 5000,
}  # fmt: skip


# ---------------------------------------------------------------------------
# The plan: a pure function of (profile, size, seed).
# ---------------------------------------------------------------------------


@dataclass
class Job:
    index: int
    kind: str
    server: str
    client: str
    sni: str
    client_ip: str
    requests: list[tuple[str, int, int]]  # (method, upload bytes, download bytes)
    close: str  # "server", "client", "fin"
    resume: bool = False

    def estimate(self) -> float:
        """Expected capture bytes of this connection (see OVERHEAD)."""
        if self.kind.startswith("fail-"):
            return OVERHEAD[self.kind]
        app = sum(up + down for _, up, down in self.requests)
        app += REQUEST_BYTES * (len(self.requests) - 1)
        return OVERHEAD[self.kind] + APP_FACTOR * app


def draw_size(rnd: random.Random, mean: float) -> int:
    """A heavy-tailed response size (lognormal, sigma 1) with the given mean."""
    sigma = 1.0
    return max(0, int(rnd.lognormvariate(math.log(max(mean, 1.0)) - sigma * sigma / 2, sigma)))


REQUESTS_PER_CONN = (1, 2, 3, 4, 5)
REQUESTS_WEIGHTS = (60, 20, 10, 6, 4)  # mean 1.74 requests per connection
MEAN_REQUESTS = 1.74


def draw_requests(rnd: random.Random, mean_app: float) -> list[tuple[str, int, int]]:
    """1-5 requests whose sizes (with REQUEST_BYTES each) add up to mean_app on average."""
    n = rnd.choices(REQUESTS_PER_CONN, REQUESTS_WEIGHTS)[0]
    per = max(0.0, mean_app / MEAN_REQUESTS - REQUEST_BYTES)
    reqs = []
    for _ in range(n):
        if rnd.random() < 0.15:
            reqs.append(("POST", draw_size(rnd, per * 0.6), draw_size(rnd, per * 0.4)))
        else:
            reqs.append(("GET", 0, draw_size(rnd, per)))
    return reqs


SCALABLE = ("tls13", "tls13-resume", "tls12", "tls12-resume", "tls11", "tls10", "mtls")


def openssl_file(size: int) -> tuple[str, int]:
    """The largest of OPENSSL_FILES not bigger than `size` (or the smallest)."""
    best = min(OPENSSL_FILES.items(), key=lambda kv: kv[1])
    for name, n in OPENSSL_FILES.items():
        if best[1] < n <= size:
            best = (name, n)
    return best


def new_job(rnd: random.Random, index: int, kind: str, mean_app: float) -> Job:
    k = KINDS[kind]
    server, client = rnd.choice(k.combos)
    sni = f"{rnd.choice(HOSTS)}.{DOMAIN}"
    if client == "wrong-name":
        sni = WRONG_HOST
    if kind.startswith("fail-"):
        requests: list[tuple[str, int, int]] = [("GET", 0, 0)]
    elif kind == "abort-rst":
        requests = [("GET", 0, rnd.randint(16 * 1024, 96 * 1024))]
    else:
        requests = draw_requests(rnd, mean_app)
    if SERVERS[server][2] == "openssl":
        n = openssl_file(requests[0][2])[1]
        requests = [("GET", 0, n)]
    if client.startswith("s_client"):
        requests = requests[:1]
    return Job(
        index=index,
        kind=kind,
        server=server,
        client=client,
        sni=sni,
        client_ip=f"{CLIENT_NET}.{rnd.randint(0, 3)}.{rnd.randint(1, 254)}",
        requests=requests,
        close=rnd.choice(k.close),
        resume=k.resume,
    )


def make_plan(profile: str, size_mb: float, seed: int) -> list[Job]:
    rnd = random.Random(f"{profile}/{size_mb}/{seed}")
    budget = size_mb * 1e6
    names = list(KINDS)
    jobs: list[Job] = []
    if profile == "handshake":
        n = max(1, round(size_mb * HANDSHAKE_CONNS_PER_MB))
        weights = [KINDS[k].w_handshake for k in names]
        kinds = rnd.choices(names, weights, k=n)
        jobs = [new_job(rnd, i, k, 3000) for i, k in enumerate(kinds)]
        # Handshakes cost a fixed amount each; scale the request and response sizes of
        # the ordinary Python-to-Python connections so that the total fits the budget.
        scalable = [
            j for j in jobs
            if j.kind in SCALABLE and SERVERS[j.server][2] != "openssl"
            and not j.client.startswith("s_client")
        ]  # fmt: skip
        body = APP_FACTOR * sum(up + down for j in scalable for _, up, down in j.requests)
        factor = max(0.05, (body + budget - sum(j.estimate() for j in jobs)) / max(body, 1.0))
        for j in scalable:
            j.requests = [(m, int(up * factor), int(down * factor)) for m, up, down in j.requests]
    else:
        n = max(4, round(size_mb * BULK_SMALL_CONNS_PER_MB))
        weights = [KINDS[k].w_bulk for k in names]
        jobs = [new_job(rnd, i, k, 4000) for i, k in enumerate(rnd.choices(names, weights, k=n))]
        left = budget - sum(j.estimate() for j in jobs)
        hi = max(BULK_MIN, min(BULK_MAX, left / 8))
        while left > OVERHEAD["bulk"]:
            size = int(math.exp(rnd.uniform(math.log(BULK_MIN), math.log(hi))))
            size = min(size, max(1024, int((left - OVERHEAD["bulk"]) / APP_FACTOR)))
            server, client = rnd.choices(BULK_COMBOS, BULK_WEIGHTS)[0]
            if SERVERS[server][2] == "openssl":
                size = openssl_file(size)[1]
                reqs = [("GET", 0, size)]
            elif rnd.random() < 0.2:
                reqs = [("POST", size, rnd.randint(100, 2000))]
            else:
                reqs = [("GET", 0, size)]
            job = Job(
                index=len(jobs),
                kind="bulk",
                server=server,
                client=client,
                sni=f"{rnd.choice(HOSTS)}.{DOMAIN}",
                client_ip=f"{CLIENT_NET}.{rnd.randint(0, 3)}.{rnd.randint(1, 254)}",
                requests=reqs,
                close=rnd.choice(("server", "client", "fin")),
            )
            jobs.append(job)
            left -= job.estimate()
        rnd.shuffle(jobs)
        for i, job in enumerate(jobs):
            job.index = i
    return jobs


# ---------------------------------------------------------------------------
# PKI: a root, an intermediate and leaves, made with the openssl CLI.
# ---------------------------------------------------------------------------

PKI_CONFIG = f"""\
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[ca]
default_ca = bench_ca
[bench_ca]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = bench_policy
unique_subject = no
email_in_dn = no
[bench_policy]
commonName = supplied
organizationName = optional
[root_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.{DOMAIN},DNS:{DOMAIN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[self_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.{DOMAIN},DNS:{DOMAIN}
subjectKeyIdentifier = hash
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

# name: (subject CN, issuer or None for self-signed, extensions, key type, how)
PKI_PLAN = {
    "root": ("tlslens bench root CA", None, "root_ext", "rsa", "req"),
    "inter": ("tlslens bench intermediate CA", "root", "inter_ext", "rsa", "x509"),
    "leaf": (f"www.{DOMAIN}", "inter", "server_ext", "rsa", "x509"),
    "ecdsa": (f"ecdsa.{DOMAIN}", "inter", "server_ext", "ec", "x509"),
    "expired": (f"old.{DOMAIN}", "inter", "server_ext", "rsa", "ca"),
    "self": (f"self.{DOMAIN}", None, "self_ext", "rsa", "req"),
    "client": ("tlslens bench client", "root", "client_ext", "rsa", "x509"),
}


def run_tool(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run(cmd, capture_output=True, timeout=120, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.decode(errors='replace')}")
    return res


def make_pki(d: Path) -> None:
    """Write NAME.pem and NAME.key for every PKI_PLAN entry into `d`."""
    (d / "pki.cnf").write_text(PKI_CONFIG)
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    cnf = str(d / "pki.cnf")
    for serial, (name, (cn, issuer, ext, keytype, how)) in enumerate(PKI_PLAN.items(), 1):
        pem, key, csr = d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr"
        keyopt = ["-newkey", "rsa:2048"]
        if keytype == "ec":
            keyopt = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        new_key = [*keyopt, "-nodes", "-keyout", str(key), "-subj", f"/CN={cn}/O=tlslens bench"]
        if how == "req":
            cmd = ["openssl", "req", "-x509", *new_key, "-config", cnf, "-extensions", ext]
            run_tool([*cmd, "-days", "3650", "-set_serial", str(serial), "-out", str(pem)])
            continue
        run_tool(["openssl", "req", "-new", *new_key, "-config", cnf, "-out", str(csr)])
        ca, ca_key = str(d / f"{issuer}.pem"), str(d / f"{issuer}.key")
        if how == "x509":
            cmd = ["openssl", "x509", "-req", "-in", str(csr), "-CA", ca, "-CAkey", ca_key]
            cmd += ["-set_serial", str(serial), "-days", "3650", "-sha256"]
            cmd += ["-extfile", cnf, "-extensions", ext, "-out", str(pem)]
        else:
            cmd = ["openssl", "ca", "-batch", "-notext", "-config", cnf, "-cert", ca]
            cmd += ["-keyfile", ca_key, "-in", str(csr), "-out", str(pem), "-md", "sha256"]
            cmd += ["-startdate", EXPIRED_DATES[0], "-enddate", EXPIRED_DATES[1]]
            cmd += ["-extensions", ext]
        run_tool(cmd, cwd=d)
        if issuer == "inter":
            (d / f"{name}.chain.pem").write_text(pem.read_text() + (d / "inter.pem").read_text())


# ---------------------------------------------------------------------------
# Network set-up (as in tests/fixtures/make.py).
# ---------------------------------------------------------------------------


def setup_loopback() -> None:
    run_tool(["ip", "link", "set", "lo", "mtu", "1500"])
    run_tool(["ip", "link", "set", "lo", "up"])
    done = offloads_off("lo", log)
    if len(done) != len(ETHTOOL_OFFLOADS):
        die("could not switch off segmentation offloads on lo; frames would not be wire-sized")
    # This namespace is ours alone: allow plenty of ephemeral ports and quick reuse.
    for key, value in (
        ("net/ipv4/ip_local_port_range", "10000 65000"),
        ("net/ipv4/tcp_tw_reuse", "1"),
        ("net/core/somaxconn", "4096"),
    ):
        with contextlib.suppress(OSError):
            Path("/proc/sys", key).write_text(value)


def namespace_prefix() -> list[str]:
    """The command prefix that runs a program in a new private network namespace."""
    if os.geteuid() == 0:
        return ["unshare", "-n"]
    return ["unshare", "-n", "--map-current-user", "--keep-caps"]


def check_environment() -> str | None:
    """None if this machine can generate captures, else the reason it cannot."""
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        return (
            f"missing tools: {', '.join(missing)} (install tcpdump, openssl, iproute2, util-linux)"
        )
    probe = [*namespace_prefix(), "ip", "link", "set", "lo", "up"]
    try:
        res = subprocess.run(probe, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {' '.join(probe)}: {exc}"
    if res.returncode != 0:
        how = "root" if os.geteuid() == 0 else "unprivileged user namespaces"
        err = res.stderr.decode(errors="replace").strip()
        return f"cannot make a private network namespace ({how}): {' '.join(probe)}: {err}"
    return None


# ---------------------------------------------------------------------------
# tcpdump and openssl s_server processes.
# ---------------------------------------------------------------------------


class Tcpdump:
    def __init__(self, path: Path) -> None:
        # As root tcpdump drops to the 'tcpdump' user: -Z root keeps the file ours.  In a
        # user namespace we are not root, so it does not try.
        drop = ["-Z", "root"] if os.geteuid() == 0 else []
        # Not -U and not --immediate-mode: buffered writes keep up with bulk transfers.
        self.cmd = ["tcpdump", "-i", "lo", "-n", "-s", "0", "-B", str(TCPDUMP_BUFFER_KIB)]
        self.cmd += [*drop, "-w", str(path)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.err = b""
        deadline = time.monotonic() + 10
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        os.set_blocking(fd, False)
        while b"listening on" not in self.err:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"tcpdump did not start: {self.err.decode(errors='replace')}")
            with contextlib.suppress(BlockingIOError):
                self.err += os.read(fd, 4096)
            time.sleep(0.05)
        os.set_blocking(fd, True)

    def stop(self) -> tuple[int, int]:
        """Stop tcpdump; return (packets captured, packets dropped by the kernel)."""
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
        text = (self.err + err).decode(errors="replace")
        captured = re.search(r"(\d+) packets? captured", text)
        dropped = re.search(r"(\d+) packets? dropped by kernel", text)
        return (int(captured.group(1)) if captured else -1, int(dropped.group(1)) if dropped else 0)


def wait_listening(addr: tuple[str, int], timeout: float = 10.0) -> None:
    """Wait until something accepts on addr (before the capture starts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(addr, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {addr}") from None
            time.sleep(0.05)


def start_openssl_servers(pki: Path, www: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for name, args in OPENSSL_SERVER_ARGS.items():
        ip, port, _, _ = SERVERS[name]
        args = [str(pki / a) if a.endswith((".pem", ".key")) else a for a in args]
        cmd = ["openssl", "s_server", "-accept", f"{ip}:{port}", "-WWW", "-http_server_binmode"]
        procs.append(
            subprocess.Popen(
                [*cmd, *args],
                cwd=www,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    for name in OPENSSL_SERVER_ARGS:
        wait_listening(SERVERS[name][:2])  # type: ignore[arg-type]
    return procs


# ---------------------------------------------------------------------------
# The worker: Python servers (shared by all workers) and a pool of clients.
# ---------------------------------------------------------------------------

PAYLOAD = b""


def body_chunks(n: int, offset: int) -> Iterator[memoryview]:
    view = memoryview(PAYLOAD)
    offset %= PAYLOAD_SIZE
    while n > 0:
        take = min(n, PAYLOAD_SIZE - offset, 256 * 1024)
        yield view[offset : offset + take]
        n -= take
        offset = (offset + take) % PAYLOAD_SIZE


def tls_version(name: str | None) -> ssl.TLSVersion | None:
    return None if name is None else ssl.TLSVersion[name]


def set_versions(ctx: ssl.SSLContext, low: str | None, high: str | None) -> None:
    with warnings.catch_warnings():
        # "ssl.TLSVersion.TLSv1 is deprecated": old versions are part of the mix.
        warnings.simplefilter("ignore", DeprecationWarning)
        if low:
            ctx.minimum_version = ssl.TLSVersion[low]
        if high:
            ctx.maximum_version = ssl.TLSVersion[high]


def server_context(name: str, pki: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf = {"ecdsa": "ecdsa", "expired": "expired", "selfsigned": "self"}.get(name, "leaf")
    chain = pki / (f"{leaf}.pem" if leaf == "self" else f"{leaf}.chain.pem")
    ctx.load_cert_chain(chain, pki / f"{leaf}.key")
    ctx.set_ciphers("DEFAULT")
    if name == "legacy":
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        set_versions(ctx, V10, None)
    elif name == "mtls":
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki / "root.pem")
    elif name == "strict":
        ctx.set_ciphers("ECDHE+AESGCM")
        set_versions(ctx, V12, None)
    elif name == "tls13only":
        set_versions(ctx, V13, None)
    elif name == "hrr":
        ctx.set_ecdh_curve("secp384r1")
    return ctx


def client_context(name: str, pki: Path) -> ssl.SSLContext:
    low, high, ciphers, curve, cert, sni = CLIENTS[name]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki / "root.pem")
    if not sni:
        ctx.check_hostname = False
    if ciphers:
        ctx.set_ciphers(ciphers)
    set_versions(ctx, low, high)
    if curve:
        ctx.set_ecdh_curve(curve)
    if cert:
        ctx.load_cert_chain(pki / "client.pem", pki / "client.key")
    return ctx


class HTTPStream:
    """HTTP/1.1-ish request/response framing over a socket or SSLSocket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.scratch = bytearray(256 * 1024)

    def read_head(self) -> bytes | None:
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def skip(self, n: int) -> bool:
        """Read and drop n body bytes; False if the peer closed first."""
        take = min(n, len(self.buf))
        del self.buf[:take]
        n -= take
        view = memoryview(self.scratch)
        while n > 0:
            got = self.sock.recv_into(view, min(n, len(self.scratch)))
            if not got:
                return False
            n -= got
        return True

    def read_to_eof(self) -> int:
        total = len(self.buf)
        self.buf.clear()
        while True:
            got = self.sock.recv_into(self.scratch)
            if not got:
                return total
            total += got

    def send_message(self, head: bytes, size: int, offset: int) -> None:
        offset %= PAYLOAD_SIZE - 16384
        if size <= 16384:
            self.sock.sendall(head + bytes(memoryview(PAYLOAD)[offset : offset + size]))
            return
        self.sock.sendall(head)
        for chunk in body_chunks(size, offset):
            self.sock.sendall(chunk)


def header_value(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == name:
            return value.strip()
    return None


def serve_http(sock: socket.socket) -> str:
    """Answer requests until the client closes ("eof") or asks to ("close")."""
    stream = HTTPStream(sock)
    while True:
        head = stream.read_head()
        if head is None:
            return "eof"
        line = head.split(b"\r\n", 1)[0].split()
        try:
            size = int(line[1].lstrip(b"/"))
        except (IndexError, ValueError):
            size = 1024
        if not stream.skip(int(header_value(head, b"content-length") or 0)):
            return "eof"
        close = header_value(head, b"connection") == b"close"
        reply = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        reply += f"Content-Length: {size}\r\n"
        reply += "Connection: close\r\n\r\n" if close else "\r\n"
        stream.send_message(reply.encode(), size, size * 7)
        if close:
            return "close"


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = sock.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
    b"Connection: close\r\n\r\nBad Request\n"
)


def handle_connection(conn: socket.socket, impl: str, ctx: ssl.SSLContext | None) -> None:
    conn.settimeout(IO_TIMEOUT)
    try:
        if impl == "reset":
            head = recv_exact(conn, 5)
            if len(head) == 5:
                recv_exact(conn, struct.unpack_from("!H", head, 3)[0])
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif impl == "http400":
            head = recv_exact(conn, 5)
            if len(head) == 5:
                recv_exact(conn, struct.unpack_from("!H", head, 3)[0])
            conn.sendall(HTTP_400)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        elif impl == "plain":
            serve_http(conn)
        else:
            assert ctx is not None
            try:
                tls = ctx.wrap_socket(conn, server_side=True, suppress_ragged_eofs=False)
            except (ssl.SSLError, OSError):
                return  # a failed handshake: the alert, if any, is already sent
            try:
                serve_http(tls)
                # Either we said "Connection: close" or the client sent close_notify:
                # send ours (and wait for the client's, if it has not come yet).
                tls.settimeout(5)
                tls.unwrap()
            except ssl.SSLEOFError:
                pass  # the client closed without close_notify (a bare FIN)
            except (ssl.SSLError, OSError):
                pass
            finally:
                tls.close()
    except OSError:
        pass
    finally:
        conn.close()


class ServerPool:
    """Accept loops for every Python server, on listeners shared between workers."""

    def __init__(self, pki: Path) -> None:
        self.listeners: list[socket.socket] = []
        self.active = 0
        self.lock = threading.Lock()
        for name, (ip, port, impl, _) in SERVERS.items():
            if impl in ("openssl", "none"):
                continue
            ctx = server_context(name, pki) if impl == "python" else None
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            lst = socket.socket(family, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            lst.bind((ip, port))
            lst.listen(1024)
            self.listeners.append(lst)
            threading.Thread(target=self.accept_loop, args=(lst, impl, ctx), daemon=True).start()

    def accept_loop(self, lst: socket.socket, impl: str, ctx: ssl.SSLContext | None) -> None:
        while True:
            try:
                conn, _ = lst.accept()
            except OSError:
                return
            with self.lock:
                self.active += 1
            threading.Thread(target=self.run, args=(conn, impl, ctx), daemon=True).start()

    def run(self, conn: socket.socket, impl: str, ctx: ssl.SSLContext | None) -> None:
        try:
            handle_connection(conn, impl, ctx)
        finally:
            with self.lock:
                self.active -= 1

    def close(self, timeout: float) -> None:
        for lst in self.listeners:
            lst.close()
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.05)


@dataclass
class ClientEnv:
    pki: Path
    contexts: dict[str, ssl.SSLContext]
    sessions: dict[tuple[str, str], ssl.SSLSession] = field(default_factory=dict)


def connect(job: Job) -> socket.socket:
    ip, port, _, _ = SERVERS[job.server]
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(IO_TIMEOUT)
    try:
        if family == socket.AF_INET:
            sock.bind((job.client_ip, 0))
        sock.connect((ip, port))
    except OSError:
        sock.close()
        raise
    return sock


def request_head(job: Job, method: str, up: int, down: int, last: bool) -> bytes:
    if SERVERS[job.server][2] == "openssl":
        return f"GET /{openssl_file(down)[0]} HTTP/1.0\r\n\r\n".encode()
    head = f"{method} /{down} HTTP/1.1\r\nHost: {job.sni}\r\nUser-Agent: tlslens-bench/1\r\n"
    if up:
        head += f"Content-Length: {up}\r\n"
    if last and job.close == "server":
        head += "Connection: close\r\n"
    return (head + "\r\n").encode()


def exchange(job: Job, sock: socket.socket) -> str:
    """Send the job's requests over sock and read the answers; how it ended."""
    stream = HTTPStream(sock)
    for i, (method, up, down) in enumerate(job.requests):
        last = i == len(job.requests) - 1
        stream.send_message(request_head(job, method, up, down, last), up, job.index * 131)
        if SERVERS[job.server][2] == "openssl":
            stream.read_to_eof()  # s_server -WWW sends the file, close_notify and FIN
            return "ok"
        head = stream.read_head()
        if head is None:
            return "closed early"
        size = int(header_value(head, b"content-length") or 0)
        if job.kind == "abort-rst":
            stream.skip(size // 3)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return "aborted"
        if not stream.skip(size):
            return "closed early"
    return "ok"


def py_client(job: Job, env: ClientEnv) -> str:
    sock = connect(job)
    try:
        if job.client == "plain":
            outcome = exchange(job, sock)
            if job.close == "server":
                stream = HTTPStream(sock)
                stream.read_to_eof()
            return outcome
        # One session store per process, as a browser keeps one per profile.
        sessions = env.sessions
        key = (job.server, job.client)
        session = sessions.get(key) if job.resume else None
        tls = env.contexts[job.client].wrap_socket(
            sock, server_hostname=job.sni if CLIENTS[job.client][5] else None, session=session
        )
        try:
            outcome = exchange(job, tls)
            if outcome != "ok" or SERVERS[job.server][2] == "openssl":
                return outcome
            if job.resume:
                if tls.session_reused:
                    outcome = "ok resumed"
                sessions[key] = tls.session
            if job.close == "server":
                # The server sends close_notify after the last response; answer it.
                while tls.recv(65536):
                    pass
                tls.unwrap()
            elif job.close == "client":
                tls.unwrap()
            return outcome
        finally:
            tls.close()
    finally:
        sock.close()


def s_client(job: Job, env: ClientEnv) -> str:
    ip, port, _, _ = SERVERS[job.server]
    cmd = ["openssl", "s_client", "-connect", f"{ip}:{port}", "-bind", f"{job.client_ip}:0"]
    cmd += ["-servername", job.sni, "-CAfile", str(env.pki / "root.pem"), "-verify_return_error"]
    cmd += ["-quiet", *S_CLIENT_ARGS[job.client]]
    method, _, down = job.requests[0]
    request = request_head(job, method, 0, down, last=True)  # s_client: server closes
    res = subprocess.run(
        cmd, input=request, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
    )
    return "ok" if res.returncode == 0 else f"s_client exit {res.returncode}"


def run_job(job: Job, env: ClientEnv) -> str:
    try:
        if job.client.startswith("s_client"):
            return s_client(job, env)
        return py_client(job, env)
    except ssl.SSLCertVerificationError:
        return "SSLCertVerificationError"
    except ssl.SSLError as exc:
        return f"SSLError {exc.reason}"
    except ConnectionResetError:
        return "reset"
    except ConnectionRefusedError:
        return "ConnectionRefusedError"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{type(exc).__name__} {exc}"


def worker(
    w: int, nworkers: int, threads: int, plan: list[Job], pki: Path, queue: Any, go: Any, stop: Any
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    servers = ServerPool(pki)
    env = ClientEnv(pki, {name: client_context(name, pki) for name in CLIENTS})
    queue.put(("ready", w, None))
    go.wait()
    mine = plan[w::nworkers]
    outcomes: dict[str, Counter[str]] = {}
    done = 0
    with ThreadPoolExecutor(threads) as pool:
        for job, outcome in zip(mine, pool.map(lambda j: run_job(j, env), mine), strict=True):
            outcomes.setdefault(job.kind, Counter())[outcome] += 1
            done += 1
            if done % 500 == 0:
                queue.put(("progress", w, done))
    queue.put(("done", w, {k: dict(v) for k, v in outcomes.items()}))
    stop.wait(600)
    servers.close(timeout=20)
    queue.put(("exited", w, servers.active))


# ---------------------------------------------------------------------------
# The run inside the namespace.
# ---------------------------------------------------------------------------


def tool_versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            res = subprocess.run(cmd, capture_output=True, timeout=10)
        except OSError:
            return "not installed"
        return (res.stdout or res.stderr).decode(errors="replace").strip().splitlines()[0]

    return {
        "python": platform.python_version(),
        "python ssl": ssl.OPENSSL_VERSION,
        "openssl": first_line(["openssl", "version"]),
        "tcpdump": first_line(["tcpdump", "--version"]),
        "kernel": platform.release(),
    }


def inner(args: argparse.Namespace) -> int:
    global PAYLOAD
    setup_loopback()
    out: Path = args.out
    plan = make_plan(args.profile, args.size_mb, args.seed)
    PAYLOAD = random.Random(args.seed).randbytes(PAYLOAD_SIZE)
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="tlslens-bench-") as tmpname:
        tmp = Path(tmpname)
        pki, www = tmp / "pki", tmp / "www"
        pki.mkdir()
        www.mkdir()
        make_pki(pki)
        for name, size in OPENSSL_FILES.items():
            with open(www / name, "wb") as f:
                for chunk in body_chunks(size, size):
                    f.write(chunk)
        queue, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
        ossl: list[subprocess.Popen[bytes]] = []
        procs: list[Any] = []
        dump: Tcpdump | None = None
        try:
            ossl = start_openssl_servers(pki, www)
            for w in range(args.workers):
                worker_args = (w, args.workers, args.threads, plan, pki, queue, go, stop)
                procs.append(ctx.Process(target=worker, args=worker_args, daemon=True))
                procs[-1].start()
            for _ in procs:
                kind, w, _ = queue.get(timeout=60)
                assert kind == "ready", kind
            dump = Tcpdump(out)
            log(f"capturing to {out}: {len(plan)} connections, {args.workers} workers x "
                f"{args.threads} threads")  # fmt: skip
            start = time.monotonic()
            go.set()
            outcomes: dict[str, Counter[str]] = {}
            progress = [0] * args.workers
            finished = 0
            while finished < args.workers:
                kind, w, value = queue.get(timeout=3600)
                if kind == "progress":
                    progress[w] = value
                    secs = time.monotonic() - start
                    log(f"{sum(progress)}/{len(plan)} connections, {secs:.0f} s")
                elif kind == "done":
                    finished += 1
                    for k, counts in value.items():
                        outcomes.setdefault(k, Counter()).update(counts)
            elapsed = time.monotonic() - start
            stop.set()
            for _ in procs:
                kind, w, active = queue.get(timeout=60)
                if active:
                    log(f"worker {w}: {active} server connections still open at the end")
            for p in procs:
                p.join(30)
            time.sleep(FLUSH_WAIT)
            packets, dropped = dump.stop()
        finally:
            # Never leave a capture or a server running, whatever went wrong.
            if dump is not None and dump.proc.poll() is None:
                dump.proc.kill()
                dump.proc.wait(10)
            for p in procs:
                if p.is_alive():
                    p.kill()
            for s in ossl:
                s.kill()
                s.wait(10)
    if dropped:
        die(f"tcpdump dropped {dropped} packets; rerun with fewer --threads or --workers")
    size = out.stat().st_size
    unexpected = {
        kind: {o: n for o, n in counts.items() if not o.startswith(KINDS[kind].expect)}
        for kind, counts in outcomes.items()
        if kind in KINDS
    }
    unexpected = {k: v for k, v in unexpected.items() if v}
    bulk_bad = {o: n for o, n in outcomes.get("bulk", {}).items() if o != "ok"}
    if bulk_bad:
        unexpected["bulk"] = bulk_bad
    summary = {
        "file": str(out),
        "generator": "bench/generate.py",
        "command": " ".join(["python3", "bench/generate.py", *args.argv]),
        "profile": args.profile,
        "seed": args.seed,
        "size_mb_target": args.size_mb,
        "size_bytes": size,
        "packets": packets,
        "connections": len(plan),
        "generation_seconds": round(elapsed, 1),
        "kinds": dict(sorted(Counter(j.kind for j in plan).items())),
        "clients": dict(sorted(Counter(j.client for j in plan).items())),
        "servers": dict(sorted(Counter(j.server for j in plan).items())),
        "application_bytes": sum(up + down for j in plan for _, up, down in j.requests),
        "outcomes": {k: dict(sorted(v.items())) for k, v in sorted(outcomes.items())},
        "unexpected_outcomes": unexpected,
        "server_descriptions": {k: v[3] for k, v in SERVERS.items()},
        "tools": tool_versions(),
        "network": "private namespace; lo MTU 1500, TSO/GSO/GRO off; tcpdump -i lo -s 0",
    }
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    n_bad = sum(sum(v.values()) for v in unexpected.values())
    log(
        f"wrote {out}: {size / 1e6:.1f} MB, {packets:,} packets, {len(plan):,} connections "
        f"in {elapsed:.0f} s; {n_bad} connections ended unexpectedly"
        + (f" ({unexpected})" if n_bad else "")
    )
    return 0


# ---------------------------------------------------------------------------
# Concatenation: N time-shifted, address-shifted copies.
# ---------------------------------------------------------------------------

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
LINKTYPE_ETHERNET = 1


def iter_records(raw: memoryview, endian: str) -> Iterator[tuple[int, int, int, int]]:
    """(offset, seconds, fraction, captured length) of every record of a pcap file."""
    hdr = struct.Struct(endian + "IIII")
    off, end = 24, len(raw)
    while off + 16 <= end:
        sec, frac, incl, _ = hdr.unpack_from(raw, off)
        yield off, sec, frac, incl
        off += 16 + incl


def renumber(pkt: bytearray, k: int) -> None:
    """Make copy k's connections new connections (Ethernet frames only).

    IPv4: raise the second octet of 127.x.y.z addresses by 16*k and recompute the header
    checksum.  IPv6 has only one loopback address, so for ::1 the TCP sequence and
    acknowledgement numbers move by k * 2**28 instead: a SYN with the same 4-tuple and a
    new initial sequence number is a new connection reusing the ports, not a
    retransmission.  TCP checksums are left alone (loopback never fills them in).
    """
    if len(pkt) < 34:
        return
    ethertype = pkt[12:14]
    if ethertype == b"\x08\x00" and pkt[14] >> 4 == 4:
        ihl = (pkt[14] & 0x0F) * 4
        changed = False
        for a in (26, 30):
            if pkt[a] == 127:
                pkt[a + 1] = (pkt[a + 1] + 16 * k) & 0xFF
                changed = True
        if changed and len(pkt) >= 14 + ihl:
            pkt[24:26] = b"\0\0"
            total = sum(struct.unpack_from(f"!{ihl // 2}H", pkt, 14))
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            struct.pack_into("!H", pkt, 24, ~total & 0xFFFF)
    elif ethertype == b"\x86\xdd" and len(pkt) >= 14 + 40 + 20 and pkt[20] == 6:
        tcp = 14 + 40
        seq, ack = struct.unpack_from("!II", pkt, tcp + 4)
        shift = (k << 28) & 0xFFFFFFFF
        ack_flag = pkt[tcp + 13] & 0x10
        ack = (ack + shift) & 0xFFFFFFFF if ack_flag else ack
        struct.pack_into("!II", pkt, tcp + 4, (seq + shift) & 0xFFFFFFFF, ack)


def concat(src: Path, dst: Path, times: int) -> None:
    raw_bytes = src.read_bytes()
    raw = memoryview(raw_bytes)
    if bytes(raw[:4]) not in PCAP_MAGICS:
        die(f"{src} is not a classic pcap file (pcapng: convert with editcap -F pcap first)")
    endian, units = PCAP_MAGICS[bytes(raw[:4])]
    linktype = struct.unpack_from(endian + "I", raw, 20)[0] & 0xFFFF
    first = last = None
    for _, sec, frac, _ in iter_records(raw, endian):
        t = sec * units + frac
        first = t if first is None else first
        last = t
    if first is None or last is None:
        die(f"{src} holds no packets")
    span = last - first + units  # one second between copies
    hdr = struct.Struct(endian + "IIII")
    tmp = dst.with_name(dst.name + ".part")
    with open(tmp, "wb") as f:
        f.write(raw[:24])
        for k in range(times):
            log(f"copy {k + 1}/{times}")
            out = bytearray()
            for off, sec, frac, incl in iter_records(raw, endian):
                t = sec * units + frac + k * span
                orig = hdr.unpack_from(raw, off)[3]
                out += hdr.pack(t // units, t % units, incl, orig)
                if k and linktype == LINKTYPE_ETHERNET:
                    pkt = bytearray(raw[off + 16 : off + 16 + incl])
                    renumber(pkt, k)
                    out += pkt
                else:
                    out += raw[off + 16 : off + 16 + incl]
                if len(out) > 16 << 20:
                    f.write(out)
                    out.clear()
            f.write(out)
    tmp.replace(dst)
    log(f"wrote {dst}: {dst.stat().st_size / 1e6:.1f} MB ({times} copies of {src})")


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="bulk")
    parser.add_argument("--size-mb", type=float, help="target file size (bulk 250, handshake 50)")
    parser.add_argument("--seed", type=int, default=1, help="plan seed (default 1)")
    parser.add_argument("--out", type=Path, help="capture file (default /tmp/bench/PROFILE.pcap)")
    parser.add_argument(
        "--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)),
        help="client/server processes (default: cores, at most 4)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=12, help="client threads per worker")
    parser.add_argument(
        "--concat", type=int, metavar="N", help="also write N back-to-back copies (NAME-xN.pcap)"
    )
    parser.add_argument(
        "--from", dest="source", type=Path, help="with --concat: copy this file, generate nothing"
    )
    parser.add_argument("--check", action="store_true", help="only check that generation works")
    parser.add_argument("--plan", action="store_true", help="print the plan's counts and exit")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = [a for a in argv if a != "--inner"]
    if args.size_mb is None:
        args.size_mb = PROFILES[args.profile]
    if args.out is None:
        args.out = DEFAULT_DIR / f"{args.profile}.pcap"
    args.out = args.out.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.inner:
        if os.environ.get(INNER_ENV) != "1":
            die("--inner is for the copy re-executed inside the private network namespace")
        return inner(args)
    if args.plan:
        plan = make_plan(args.profile, args.size_mb, args.seed)
        est = sum(j.estimate() for j in plan)
        print(json.dumps({
            "connections": len(plan), "estimated_mb": round(est / 1e6, 1),
            "kinds": dict(sorted(Counter(j.kind for j in plan).items())),
            "example": asdict(plan[0]),
        }, indent=2))  # fmt: skip
        return 0
    if args.source is not None:
        if not args.concat:
            die("--from needs --concat N")
        src = args.source.resolve()
        concat(src, src.with_name(f"{src.stem}-x{args.concat}{src.suffix}"), args.concat)
        return 0
    problem = check_environment()
    if args.check:
        print(problem or "ok: " + " ".join(namespace_prefix()))
        return 3 if problem else 0
    if problem:
        die(problem + "; see bench/README.md", 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*namespace_prefix(), sys.executable, str(HERE), "--inner", *args.argv]
    if "--out" not in args.argv:
        cmd += ["--out", str(args.out)]
    start = time.monotonic()
    res = subprocess.run(cmd, env={**os.environ, INNER_ENV: "1"})
    if res.returncode != 0:
        return res.returncode
    log(f"done in {time.monotonic() - start:.0f} s")
    if args.concat:
        out = args.out
        concat(out, out.with_name(f"{out.stem}-x{args.concat}{out.suffix}"), args.concat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
