"""NetworkManager profiles from the technician's boot file (``[wifi]`` and ``[network]``).

* ``[wifi]``: ``ssid``, ``password`` and ``country`` for WPA2-Personal; add ``identity`` (and
  optionally ``eap`` = "peap" or "ttls", ``ca_file``) for WPA2-Enterprise, where ``password`` is
  that identity's password. An empty ``ssid`` means the network cable.
* ``[network]``: ``address`` ("10.20.30.40/24"), ``gateway`` and ``dns`` (a list) for a fixed
  address on whichever of the two is used; nothing means DHCP.

:func:`check` names every problem by its key; :func:`plan` turns the tables into keyfiles for
``/data/network`` (NetworkManager's keyfile folder on the image). A password written on the card
goes into the profile; when the card no longer holds it (kiosk-firstboot blanks it), the one in
the existing profile is kept. Passwords never appear in messages.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

WIFI_FILE = "kiosk-wifi.nmconnection"
WIRED_FILE = "kiosk-wired.nmconnection"
CA_FILE = "wifi-ca.pem"
WIFI_KEYS = ("ssid", "password", "country", "identity", "eap", "ca_file")
NETWORK_KEYS = ("address", "gateway", "dns")
PHASE2 = {"peap": "mschapv2", "ttls": "pap"}  # what each outer method carries inside


@dataclass
class Plan:
    files: dict[str, str] = field(default_factory=dict)  # name in /data/network -> keyfile text
    remove: list[str] = field(default_factory=list)
    ca_source: Path | None = None  # copy this to /data/network/wifi-ca.pem
    password_on_card: bool = False  # the boot file held a password: blank it there


def _text(table: dict, key: str) -> object:
    return table.get(key, "")


def check(wifi: object, network: object) -> list[str]:
    """Problems with the two tables, each naming its key; [] when they can be used."""
    out: list[str] = []
    for name, table, keys in (("wifi", wifi, WIFI_KEYS), ("network", network, NETWORK_KEYS)):
        if table is None:
            continue
        if not isinstance(table, dict):
            out.append(f"[{name}] must be a table")
            continue
        unknown = sorted(set(table) - set(keys))
        if unknown:
            out.append(f"[{name}] unknown key(s) {', '.join(unknown)} (known: {', '.join(keys)})")
    if out:
        return out
    wifi, network = wifi or {}, network or {}
    for key in WIFI_KEYS:
        if key in wifi and not isinstance(wifi[key], str):
            out.append(f"[wifi] {key} must be text in double quotes")
    for key in ("address", "gateway"):
        if key in network and not isinstance(network[key], str):
            out.append(f'[network] {key} must be text in double quotes, e.g. "10.20.30.40/24"')
    if "dns" in network and not (isinstance(network["dns"], list)
                                 and all(isinstance(d, str) for d in network["dns"])):
        out.append('[network] dns must be a list of addresses, e.g. ["10.20.30.1", "8.8.8.8"]')
    if out:
        return out
    ssid, pw = wifi.get("ssid", ""), wifi.get("password", "")
    identity, eap = wifi.get("identity", ""), wifi.get("eap", "")
    if len(ssid.encode()) > 32:
        out.append("[wifi] ssid is longer than 32 bytes")
    if not re.fullmatch(r"[A-Z]{2}", wifi.get("country", "ID")):
        out.append(f"[wifi] country = {wifi.get('country')!r} must be two capital letters, e.g. \"ID\"")
    if identity:
        if eap and eap not in PHASE2:
            out.append(f"[wifi] eap = {eap!r} must be one of: {', '.join(PHASE2)}")
        ca = wifi.get("ca_file", "")
        if ca and not Path(ca).is_file():
            out.append(f"[wifi] ca_file = {ca!r} not found (put the network's CA certificate on the card)")
    else:
        if eap or wifi.get("ca_file"):
            out.append("[wifi] eap and ca_file are for WPA2-Enterprise: set identity as well")
        if pw and not 8 <= len(pw) <= 63:
            out.append("[wifi] password must have 8 to 63 characters (or be empty for an open network)")
    address, gateway = network.get("address", ""), network.get("gateway", "")
    iface = None
    if address:
        try:
            iface = ipaddress.IPv4Interface(address)
            if "/" not in address:
                raise ValueError
        except ValueError:
            out.append(f"[network] address = {address!r} must be an IPv4 address with its prefix, "
                       "e.g. \"10.20.30.40/24\"")
    elif gateway or network.get("dns"):
        out.append("[network] gateway and dns need an address too (without one the kiosk uses DHCP)")
    if gateway:
        try:
            gw = ipaddress.IPv4Address(gateway)
            if iface is not None and gw not in iface.network:
                out.append(f"[network] gateway = {gateway!r} is not in {iface.network}")
        except ValueError:
            out.append(f"[network] gateway = {gateway!r} is not an IPv4 address")
    for d in network.get("dns", []):
        try:
            ipaddress.ip_address(d)
        except ValueError:
            out.append(f"[network] dns: {d!r} is not an IP address")
    return out


def _esc(s: str) -> str:
    """A GKeyFile value: backslash, newline and the list separator escaped."""
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace(";", "\\;")


def _ipv4(network: dict) -> str:
    address = network.get("address", "")
    if not address:
        return "[ipv4]\nmethod=auto\n"
    gw = network.get("gateway", "")
    lines = ["[ipv4]", "method=manual", f"address1={address}" + (f",{gw}" if gw else "")]
    if network.get("dns"):
        lines.append("dns=" + "".join(f"{d};" for d in network["dns"]))
    return "\n".join(lines) + "\n"


def secret_of(profile_text: str | None) -> str:
    """The Wi-Fi secret (psk, or the 802.1X password) kept in an existing profile."""
    if not profile_text:
        return ""
    m = re.search(r"^(?:psk|password)=(.*)$", profile_text, re.M)
    if not m:
        return ""
    return re.sub(r"\\(.)", lambda g: {"n": "\n"}.get(g.group(1), g.group(1)), m.group(1))


def _same_network(profile_text: str | None, ssid: str, identity: str) -> bool:
    if not profile_text:
        return False
    has = f"\nssid={_esc(ssid)}\n" in profile_text
    return has and (not identity or f"\nidentity={_esc(identity)}\n" in profile_text)


def plan(wifi: dict | None, network: dict | None, existing: dict[str, str], data_network: Path) -> Plan:
    """The profiles to write (call :func:`check` first). `existing`: the current files by name;
    `data_network`: where they live on the kiosk (the profile names the CA file there)."""
    wifi, network = wifi or {}, network or {}
    out = Plan()
    ssid = wifi.get("ssid", "")
    ipv4 = _ipv4(network) + "\n[ipv6]\nmethod=auto\n"
    if not ssid:
        if WIFI_FILE in existing:
            out.remove.append(WIFI_FILE)
        if network.get("address"):
            out.files[WIRED_FILE] = ("[connection]\nid=kiosk-wired\ntype=ethernet\nautoconnect=true\n"
                                     "autoconnect-priority=10\n\n[ethernet]\n\n" + ipv4)
        elif WIRED_FILE in existing:
            out.remove.append(WIRED_FILE)
        return out
    if WIRED_FILE in existing:
        out.remove.append(WIRED_FILE)
    identity = wifi.get("identity", "")
    password = wifi.get("password", "")
    out.password_on_card = bool(password)
    if not password and _same_network(existing.get(WIFI_FILE), ssid, identity):
        password = secret_of(existing.get(WIFI_FILE))
    head = (f"[connection]\nid=kiosk-wifi\ntype=wifi\nautoconnect=true\n\n"
            f"[wifi]\nmode=infrastructure\nssid={_esc(ssid)}\n\n")
    if identity:
        eap = wifi.get("eap") or "peap"
        sec = (f"[wifi-security]\nkey-mgmt=wpa-eap\n\n[802-1x]\neap={eap};\nidentity={_esc(identity)}\n"
               f"phase2-auth={PHASE2[eap]}\npassword={_esc(password)}\n")
        if wifi.get("ca_file"):
            out.ca_source = Path(wifi["ca_file"])
            sec += f"ca-cert={data_network / CA_FILE}\n"
        sec += "\n"
    elif password:
        sec = f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={_esc(password)}\n\n"
    else:
        sec = ""
    out.files[WIFI_FILE] = head + sec + ipv4
    return out


def missing_secret(wifi: dict | None, p: Plan) -> str | None:
    """A WPA2-Enterprise profile without any password to use (none on the card, none kept)."""
    wifi = wifi or {}
    if wifi.get("identity") and WIFI_FILE in p.files and "\npassword=\n" in p.files[WIFI_FILE]:
        return "[wifi] password is needed for the identity (WPA2-Enterprise)"
    return None
