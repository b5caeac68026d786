"""Who is looking: the signed-in user, their role and the councils they may see (no Streamlit here).

Roles (from the roles file; see README "Deploying and signing in"): `admin` manages datasets, users' roles, settings
and reference files; `analyst` uploads and sees exact figures; `viewer` sees released views only. A user who is
not in the roles file has no role and sees nothing but a message.

The roles file (YAML, validated strictly: an unknown key fails with a message naming it) is `EHMAP_ROLES_FILE`,
else `roles.yaml` in the state directory::

    users:                      # matched by email, case-insensitively
      - email: head.of.early.help@council.gov.uk
        role: admin
      - email: analyst@council.gov.uk
        role: analyst
        councils: [E09000008]   # LAD codes this user may see; leave out for every council
    claims:                     # matched by an OIDC claim value, e.g. Entra ID app roles in the `roles` claim
      - claim: roles
        value: ehmap.viewer
        role: viewer

An email entry wins over claim entries; of several matching claim entries the most powerful role wins, with the
councils of every matching entry of that role.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from ehmap.config import state_dir


class Role(StrEnum):
    """What a user may do; each role can do everything the roles after it can."""

    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


TEAM_ROLES = frozenset({Role.ADMIN, Role.ANALYST})  # roles that see the team's exact figures
MODES = ("oidc", "proxy", "laptop")  # how a user was identified


@dataclass(frozen=True)
class User:
    """A signed-in user (or laptop mode's single local user) and what they may do."""

    id: str  # the email (or OIDC subject) the user signed in with; "local" in laptop mode
    name: str
    role: Role | None  # None: not in the roles file, so the user sees nothing
    councils: tuple[str, ...] | None = None  # LAD codes the user may see; None = every council
    mode: str = "laptop"  # "oidc", "proxy" or "laptop": how the user was identified

    @property
    def sees_exact(self) -> bool:
        """True for the team (admin, analyst): exact figures on their own data."""
        return self.role in TEAM_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_see(self, la_code: str) -> bool:
        """Whether this user may see a council's data."""
        return self.role is not None and (self.councils is None or la_code in self.councils)


def laptop_user() -> User:
    """Laptop mode's single local user (no sign-in configured, the app serves this machine only).

    Their role is admin: on their own machine they are both the analyst of their own data and the admin of their
    own reference files and settings, and nobody else can reach the app.
    """
    return User(id="local", name="You (laptop mode)", role=Role.ADMIN, councils=None, mode="laptop")


def allowed_councils(user: User, all_names: Mapping[str, str]) -> dict[str, str]:
    """The councils (code -> name, in the order given) this user may pick in the council selector."""
    return {code: name for code, name in all_names.items() if user.may_see(code)}


# ---------------------------------------------------------------- the roles file

ROLES_FILE_ENV = "EHMAP_ROLES_FILE"
ROLES_FILE = "roles.yaml"
EMAIL_CLAIMS = ("email", "preferred_username", "upn")  # Entra ID puts the sign-in address in the last two
_ROLE_ORDER = (Role.ADMIN, Role.ANALYST, Role.VIEWER)
_TOP_KEYS = ("users", "claims")
_USER_KEYS = ("email", "role", "councils")
_CLAIM_KEYS = ("claim", "value", "role", "councils")
_LAD_CODE = re.compile(r"^[EW]0[6-9]\d{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class RolesFileError(ValueError):
    """The roles file is missing or wrong; the message names the file and what to change."""


@dataclass(frozen=True)
class Grant:
    """One entry of the roles file: a role (and councils) for an email or for a claim value."""

    role: Role
    councils: tuple[str, ...] | None
    email: str | None = None
    claim: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class RolesFile:
    """The roles file, loaded and checked: who gets which role."""

    path: Path | None
    users: Mapping[str, Grant]  # lower-case email -> grant
    claims: tuple[Grant, ...] = ()

    def user_for(self, claims: Mapping[str, object], mode: str) -> User:
        """The user these identity claims describe (OIDC ID token claims, or the proxy's headers as mapped into
        `st.user`), with role None when neither their email nor any claim value is in the roles file."""
        if mode not in MODES:
            raise ValueError(f"Unknown sign-in mode '{mode}'; valid modes are {', '.join(MODES)}.")
        email = claim_email(claims)
        subject = claims.get("sub")
        ident = email or (str(subject) if subject else "unknown")
        name = claims.get("name")
        grant = self.users.get(email) if email else None
        if grant is None:
            grant = self._by_claims(claims)
        return User(
            id=ident,
            name=str(name) if name else ident,
            role=grant.role if grant else None,
            councils=grant.councils if grant else None,
            mode=mode,
        )

    def _by_claims(self, claims: Mapping[str, object]) -> Grant | None:
        matched = [g for g in self.claims if g.value in _claim_values(claims.get(g.claim or ""))]
        if not matched:
            return None
        role = min((g.role for g in matched), key=_ROLE_ORDER.index)
        strongest = [g for g in matched if g.role is role]
        if any(g.councils is None for g in strongest):
            return Grant(role, None)
        councils = tuple(dict.fromkeys(code for g in strongest for code in g.councils or ()))
        return Grant(role, councils)


def claim_email(claims: Mapping[str, object]) -> str | None:
    """The user's email from their claims (`email`, else `preferred_username`, else `upn`), lower-cased."""
    for key in EMAIL_CLAIMS:
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


def _claim_values(value: object) -> set[str]:
    """A claim's values: a list (as in an ID token) or a comma-separated string (as a proxy header carries it)."""
    if isinstance(value, (list, tuple)):
        return {str(item) for item in value}
    if isinstance(value, str):
        return {value, *(part.strip() for part in value.split(",") if part.strip())}
    return set()


def roles_path() -> Path:
    """Where the roles file is: `EHMAP_ROLES_FILE`, else `roles.yaml` in the state directory."""
    value = os.environ.get(ROLES_FILE_ENV)
    return Path(value).expanduser() if value else state_dir() / ROLES_FILE


def load_roles(path: Path | None = None) -> RolesFile:
    """Read and check the roles file (default: `roles_path()`); raises RolesFileError naming what is wrong."""
    path = path or roles_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RolesFileError(
            f"No roles file at {path}: create it (see README 'Deploying and signing in') or point {ROLES_FILE_ENV} "
            "at it."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RolesFileError(f"The roles file {path} could not be read ({error}).") from None
    return parse_roles(text, path)


def parse_roles(text: str, path: Path | None = None) -> RolesFile:
    """Check a roles file's text; raises RolesFileError naming the file, the entry and the key."""
    where = str(path) if path else "the roles file"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise RolesFileError(f"{where} is not valid YAML{line}: {getattr(error, 'problem', None) or error}.") from None
    if not isinstance(data, dict):
        raise RolesFileError(f"{where} must be a mapping with a 'users' list and/or a 'claims' list.")
    _check_keys(data, _TOP_KEYS, where, "at the top level")
    users: dict[str, Grant] = {}
    first_seen: dict[str, str] = {}
    for label, entry in _entries(data, "users", where):
        _check_keys(entry, _USER_KEYS, where, f"in {label}")
        email = _required(entry, "email", label, where)
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise RolesFileError(f"{where}: {label} email {email!r} is not an email address.")
        key = email.strip().lower()
        if key in users:
            raise RolesFileError(
                f"{where}: {label} repeats the email of {first_seen[key]} (emails are matched case-insensitively)."
            )
        users[key] = Grant(_role(entry, label, where), _councils(entry, label, where), email=key)
        first_seen[key] = label
    claims: list[Grant] = []
    for label, entry in _entries(data, "claims", where):
        _check_keys(entry, _CLAIM_KEYS, where, f"in {label}")
        claim = _required(entry, "claim", label, where)
        value = _required(entry, "value", label, where)
        for key, text_value in (("claim", claim), ("value", value)):
            if not isinstance(text_value, str) or not text_value.strip():
                raise RolesFileError(f"{where}: {label} {key} must be text, e.g. claim: roles, value: ehmap.viewer.")
        claims.append(Grant(_role(entry, label, where), _councils(entry, label, where), claim=claim.strip(),
                            value=value.strip()))
    if not users and not claims:
        raise RolesFileError(f"{where} gives nobody a role: add entries under 'users' or 'claims'.")
    return RolesFile(path, users, tuple(claims))


def _check_keys(entry: dict, allowed: tuple[str, ...], where: str, place: str) -> None:
    for key in entry:
        if key not in allowed:
            raise RolesFileError(
                f"{where}: unknown key '{key}' {place}; allowed keys: {', '.join(sorted(allowed))}."
            )


def _entries(data: dict, section: str, where: str) -> list[tuple[str, dict]]:
    entries = data.get(section)
    if entries is None:
        return []
    example = "{email: ..., role: ...}" if section == "users" else "{claim: roles, value: ..., role: ...}"
    if not isinstance(entries, list):
        raise RolesFileError(f"{where}: '{section}' must be a list of entries like {example}.")
    labelled = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise RolesFileError(f"{where}: {section}[{i}] must be a mapping like {example}.")
        labelled.append((f"{section}[{i}]", entry))
    return labelled


def _required(entry: dict, key: str, label: str, where: str) -> object:
    if entry.get(key) is None:
        raise RolesFileError(f"{where}: {label} has no '{key}'.")
    return entry[key]


def _role(entry: dict, label: str, where: str) -> Role:
    value = _required(entry, "role", label, where)
    try:
        return Role(value)
    except ValueError:
        raise RolesFileError(
            f"{where}: {label} role {value!r} is not one of {', '.join(r.value for r in _ROLE_ORDER)}."
        ) from None


def _councils(entry: dict, label: str, where: str) -> tuple[str, ...] | None:
    if "councils" not in entry:
        return None
    value = entry["councils"]
    if not isinstance(value, list):
        raise RolesFileError(f"{where}: {label} councils must be a list of council (LAD) codes such as [E09000008].")
    if not value:
        raise RolesFileError(f"{where}: {label} councils is empty: leave it out to allow every council.")
    for code in value:
        if not isinstance(code, str) or not _LAD_CODE.match(code):
            raise RolesFileError(
                f"{where}: {label} councils: {code!r} is not a council (LAD) code such as E09000008."
            )
    return tuple(dict.fromkeys(value))


# ---------------------------------------------------------------- where the app may listen

SIGN_IN_HINT = (
    "configure [auth] in secrets.toml or trusted proxy headers (see README 'Deploying and signing in'), "
    "or use 127.0.0.1"
)


def is_loopback(address: str) -> bool:
    """Whether an address only this machine can reach: a loopback IP, `localhost`, a name that resolves only to
    loopback, or a Unix socket (`unix://...`)."""
    host = address.strip()
    if host.startswith("unix://"):
        return True
    host = host.removeprefix("[").removesuffix("]")
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0].split("%")[0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(ip).is_loopback for ip in found)


def listen_problem(address: str, sign_in_configured: bool) -> str | None:
    """The one-line reason ehmap refuses to serve on `address` ("" = Streamlit's default, every interface), or
    None when it may: on loopback, or anywhere once sign-in is configured."""
    if sign_in_configured or is_loopback(address):
        return None
    shown = address.strip() or "every network interface (server.address is not set)"
    return f"ehmap will not listen on {shown} without sign-in: {SIGN_IN_HINT}"


# ---------------------------------------------------------------- sign-in settings

PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


def sign_in_providers(auth: Mapping[str, object] | None) -> tuple[str, ...]:
    """The identity providers `st.login` can be called with, from the `[auth]` secrets: "default" when `[auth]`
    holds `client_id` itself, and the name of each `[auth.NAME]` table."""
    if not isinstance(auth, Mapping):
        return ()
    names = ["default"] if "client_id" in auth else []
    names += [key for key, value in auth.items() if isinstance(value, Mapping) and key != "client_kwargs"]
    return tuple(names)


def auth_problem(auth: Mapping[str, object]) -> str | None:
    """What is wrong with the `[auth]` secrets (one line), or None when `st.login` can use them."""
    prefix = "Sign-in is misconfigured: [auth] in secrets.toml"
    if not isinstance(auth, Mapping):
        return f"{prefix} must be a table."
    redirect = auth.get("redirect_uri")
    if not redirect:
        return f"{prefix} has no redirect_uri (this app's address ending /oauth2callback)."
    if not str(redirect).endswith("/oauth2callback"):
        return f"{prefix} redirect_uri must end with /oauth2callback; it is {redirect}."
    if not auth.get("cookie_secret"):
        return f"{prefix} has no cookie_secret (a long random string, identical on every replica)."
    providers = sign_in_providers(auth)
    if not providers:
        return (f"{prefix} names no identity provider: add client_id, client_secret and server_metadata_url, "
                "e.g. under [auth.microsoft].")
    for name in providers:
        section = auth if name == "default" else auth[name]
        table = "[auth]" if name == "default" else f"[auth.{name}]"
        if "_" in name:
            return f"Sign-in is misconfigured: {table} in secrets.toml: Streamlit allows no '_' in a provider name."
        for key in PROVIDER_KEYS:
            if not section.get(key):
                return f"Sign-in is misconfigured: {table} in secrets.toml has no {key}."
    return None


def proxy_headers_problem(mapping: Mapping[str, object]) -> str | None:
    """What is wrong with `server.trustedUserHeaders` for ehmap (one line), or None: ehmap needs the header that
    carries the signed-in user's email mapped to `email`."""
    if "email" not in {str(value) for value in mapping.values()}:
        return ('Sign-in is misconfigured: server.trustedUserHeaders must map the header carrying the signed-in '
                'user\'s email to "email", e.g. {"X-Forwarded-Email" = "email"}.')
    return None
