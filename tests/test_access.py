"""Who is looking (ehmap.access): the roles file, matching users, laptop mode, where the app may listen."""

from __future__ import annotations

import pytest

from ehmap.access import (
    Role,
    RolesFileError,
    User,
    allowed_councils,
    auth_problem,
    is_loopback,
    laptop_user,
    listen_problem,
    load_roles,
    parse_roles,
    proxy_headers_problem,
    roles_path,
    sign_in_providers,
)

ROLES = """\
users:
  - email: Head.Of.Service@Council.gov.uk
    role: admin
  - email: analyst@council.gov.uk
    role: analyst
    councils: [E09000008, E09000008, E06000060]
  - email: both@council.gov.uk
    role: viewer
claims:
  - claim: roles
    value: ehmap.viewer
    role: viewer
    councils: [E09000008]
  - claim: roles
    value: ehmap.analyst
    role: analyst
    councils: [E09000008]
  - claim: roles
    value: ehmap.analyst.bucks
    role: analyst
    councils: [E06000060]
  - claim: groups
    value: early-help-admins
    role: admin
"""


@pytest.fixture()
def roles(tmp_path):
    path = tmp_path / "roles.yaml"
    path.write_text(ROLES, encoding="utf-8")
    return load_roles(path)


def test_a_user_is_matched_by_email_case_insensitively(roles):
    user = roles.user_for({"email": "head.of.service@COUNCIL.gov.uk", "name": "Pat Head", "sub": "x1"}, "oidc")
    assert user == User(id="head.of.service@council.gov.uk", name="Pat Head", role=Role.ADMIN, councils=None,
                        mode="oidc")
    assert user.sees_exact and user.is_admin and user.may_see("E08000001")


def test_councils_restrict_a_user_and_repeats_are_dropped(roles):
    user = roles.user_for({"email": "analyst@council.gov.uk"}, "oidc")
    assert (user.role, user.councils, user.name) == (Role.ANALYST, ("E09000008", "E06000060"), "analyst@council.gov.uk")
    assert user.may_see("E09000008") and not user.may_see("E09000001")
    names = {"E09000001": "City of London", "E09000008": "Croydon", "E06000060": "Buckinghamshire"}
    assert allowed_councils(user, names) == {"E09000008": "Croydon", "E06000060": "Buckinghamshire"}


def test_entra_sign_in_address_is_used_when_there_is_no_email_claim(roles):
    user = roles.user_for({"preferred_username": "Analyst@council.gov.uk", "sub": "abc"}, "oidc")
    assert (user.id, user.role) == ("analyst@council.gov.uk", Role.ANALYST)
    assert roles.user_for({"upn": "analyst@council.gov.uk"}, "oidc").role is Role.ANALYST


def test_a_user_is_matched_by_an_app_role_claim(roles):
    user = roles.user_for({"email": "someone@council.gov.uk", "roles": ["ehmap.viewer"]}, "oidc")
    assert (user.role, user.councils) == (Role.VIEWER, ("E09000008",))


def test_the_most_powerful_matching_claim_wins_with_all_its_councils(roles):
    claims = {"email": "x@council.gov.uk", "roles": ["ehmap.viewer", "ehmap.analyst", "ehmap.analyst.bucks"]}
    user = roles.user_for(claims, "oidc")
    assert (user.role, user.councils) == (Role.ANALYST, ("E09000008", "E06000060"))
    admin = roles.user_for({**claims, "groups": ["early-help-admins"]}, "oidc")
    assert (admin.role, admin.councils) == (Role.ADMIN, None)


def test_an_email_entry_wins_over_claims(roles):
    user = roles.user_for({"email": "both@council.gov.uk", "roles": ["ehmap.analyst"]}, "oidc")
    assert user.role is Role.VIEWER


def test_a_proxy_header_carries_claim_values_comma_separated(roles):
    user = roles.user_for({"email": "x@council.gov.uk", "roles": "other, ehmap.analyst"}, "proxy")
    assert (user.role, user.mode) == (Role.ANALYST, "proxy")


def test_a_user_not_in_the_roles_file_has_no_role_and_may_see_nothing(roles):
    user = roles.user_for({"email": "stranger@example.org", "name": "Sam", "roles": ["other"]}, "oidc")
    assert user.role is None and not user.sees_exact and not user.may_see("E09000008")
    assert allowed_councils(user, {"E09000008": "Croydon"}) == {}
    nameless = roles.user_for({"sub": "opaque-subject"}, "oidc")
    assert (nameless.id, nameless.name, nameless.role) == ("opaque-subject", "opaque-subject", None)


def test_an_unknown_mode_is_refused(roles):
    with pytest.raises(ValueError, match="Unknown sign-in mode 'saml'; valid modes are oidc, proxy, laptop."):
        roles.user_for({"email": "a@b.c"}, "saml")


def test_laptop_user_is_the_admin_of_every_council():
    user = laptop_user()
    assert (user.id, user.role, user.councils, user.mode) == ("local", Role.ADMIN, None, "laptop")
    assert allowed_councils(user, {"E09000008": "Croydon", "E06000060": "Buckinghamshire"}) == {
        "E09000008": "Croydon", "E06000060": "Buckinghamshire"}


def test_roles_file_location(monkeypatch, tmp_path):
    monkeypatch.setenv("EHMAP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("EHMAP_ROLES_FILE", raising=False)
    assert roles_path() == tmp_path / "state" / "roles.yaml"
    monkeypatch.setenv("EHMAP_ROLES_FILE", str(tmp_path / "elsewhere.yaml"))
    assert roles_path() == tmp_path / "elsewhere.yaml"


def test_a_missing_roles_file_says_where_it_should_be(tmp_path):
    path = tmp_path / "roles.yaml"
    with pytest.raises(RolesFileError) as error:
        load_roles(path)
    assert str(error.value) == (
        f"No roles file at {path}: create it (see README 'Deploying and signing in') or point EHMAP_ROLES_FILE at it."
    )


BAD_FILES = [
    ("users: [a\n", "roles.yaml is not valid YAML at line 2: expected ',' or ']', but got '<stream end>'."),
    ("- email: a@b.c\n", "roles.yaml must be a mapping with a 'users' list and/or a 'claims' list."),
    ("", "roles.yaml must be a mapping with a 'users' list and/or a 'claims' list."),
    ("user:\n  - email: a@b.c\n    role: admin\n",
     "roles.yaml: unknown key 'user' at the top level; allowed keys: claims, users."),
    ("users:\n  - email: a@b.c\n    rol: admin\n",
     "roles.yaml: unknown key 'rol' in users[0]; allowed keys: councils, email, role."),
    ("claims:\n  - claim: roles\n    value: v\n    role: viewer\n    council: [E09000008]\n",
     "roles.yaml: unknown key 'council' in claims[0]; allowed keys: claim, councils, role, value."),
    ("users: a@b.c\n", "roles.yaml: 'users' must be a list of entries like {email: ..., role: ...}."),
    ("claims: {claim: roles}\n",
     "roles.yaml: 'claims' must be a list of entries like {claim: roles, value: ..., role: ...}."),
    ("users:\n  - a@b.c\n", "roles.yaml: users[0] must be a mapping like {email: ..., role: ...}."),
    ("users:\n  - role: admin\n", "roles.yaml: users[0] has no 'email'."),
    ("users:\n  - email: a@b.c\n", "roles.yaml: users[0] has no 'role'."),
    ("users:\n  - email: not-an-email\n    role: admin\n",
     "roles.yaml: users[0] email 'not-an-email' is not an email address."),
    ("users:\n  - email: a@b.c\n    role: boss\n",
     "roles.yaml: users[0] role 'boss' is not one of admin, analyst, viewer."),
    ("users:\n  - email: a@b.c\n    role: admin\n  - email: A@B.C\n    role: viewer\n",
     "roles.yaml: users[1] repeats the email of users[0] (emails are matched case-insensitively)."),
    ("users:\n  - email: a@b.c\n    role: viewer\n    councils: E09000008\n",
     "roles.yaml: users[0] councils must be a list of council (LAD) codes such as [E09000008]."),
    ("users:\n  - email: a@b.c\n    role: viewer\n    councils: []\n",
     "roles.yaml: users[0] councils is empty: leave it out to allow every council."),
    ("users:\n  - email: a@b.c\n    role: viewer\n    councils: [Croydon]\n",
     "roles.yaml: users[0] councils: 'Croydon' is not a council (LAD) code such as E09000008."),
    ("claims:\n  - value: v\n    role: viewer\n", "roles.yaml: claims[0] has no 'claim'."),
    ("claims:\n  - claim: roles\n    role: viewer\n", "roles.yaml: claims[0] has no 'value'."),
    ("claims:\n  - claim: roles\n    value: [a, b]\n    role: viewer\n",
     "roles.yaml: claims[0] value must be text, e.g. claim: roles, value: ehmap.viewer."),
    ("users: []\nclaims: []\n", "roles.yaml gives nobody a role: add entries under 'users' or 'claims'."),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_every_bad_roles_file_names_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "roles.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RolesFileError) as error:
        load_roles(path)
    assert str(error.value) == f"{tmp_path}/{message}"


def test_parse_roles_without_a_path_says_the_roles_file():
    with pytest.raises(RolesFileError, match="^the roles file: unknown key 'admins' at the top level"):
        parse_roles("admins: []\n")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]",
                                     "unix:///run/ehmap.sock"])
def test_loopback_addresses_are_allowed_without_sign_in(address):
    assert is_loopback(address)
    assert listen_problem(address, sign_in_configured=False) is None


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "no-such-host.invalid"])
def test_other_addresses_are_refused_without_sign_in(address):
    assert not is_loopback(address)
    assert listen_problem(address, sign_in_configured=False) == (
        f"ehmap will not listen on {address} without sign-in: configure [auth] in secrets.toml or trusted proxy "
        "headers (see README 'Deploying and signing in'), or use 127.0.0.1"
    )
    assert listen_problem(address, sign_in_configured=True) is None


def test_an_unset_address_means_every_interface():
    assert listen_problem("", sign_in_configured=False) == (
        "ehmap will not listen on every network interface (server.address is not set) without sign-in: configure "
        "[auth] in secrets.toml or trusted proxy headers (see README 'Deploying and signing in'), or use 127.0.0.1"
    )


GOOD_AUTH = {
    "redirect_uri": "https://ehmap.council.gov.uk/oauth2callback",
    "cookie_secret": "a-long-random-string",
    "microsoft": {"client_id": "id", "client_secret": "secret",
                  "server_metadata_url": "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"},
}


def test_sign_in_providers():
    assert sign_in_providers(GOOD_AUTH) == ("microsoft",)
    flat = {**GOOD_AUTH, "client_id": "x", "client_secret": "y", "server_metadata_url": "z", "client_kwargs": {}}
    assert sign_in_providers(flat) == ("default", "microsoft")
    assert sign_in_providers(None) == ()
    assert auth_problem(GOOD_AUTH) is None


@pytest.mark.parametrize(("change", "message"), [
    ({"redirect_uri": None}, "has no redirect_uri (this app's address ending /oauth2callback)."),
    ({"redirect_uri": "https://ehmap.council.gov.uk/"},
     "redirect_uri must end with /oauth2callback; it is https://ehmap.council.gov.uk/."),
    ({"cookie_secret": None}, "has no cookie_secret (a long random string, identical on every replica)."),
    ({"microsoft": None}, "names no identity provider: add client_id, client_secret and server_metadata_url, "
                          "e.g. under [auth.microsoft]."),
])
def test_auth_problems_are_named(change, message):
    auth = {key: value for key, value in {**GOOD_AUTH, **change}.items() if value is not None}
    assert auth_problem(auth) == f"Sign-in is misconfigured: [auth] in secrets.toml {message}"


def test_provider_problems_are_named():
    missing = {**GOOD_AUTH, "microsoft": {"client_id": "id", "server_metadata_url": "u"}}
    assert auth_problem(missing) == "Sign-in is misconfigured: [auth.microsoft] in secrets.toml has no client_secret."
    underscored = {**GOOD_AUTH, "my_idp": GOOD_AUTH["microsoft"]}
    assert auth_problem(underscored) == (
        "Sign-in is misconfigured: [auth.my_idp] in secrets.toml: Streamlit allows no '_' in a provider name.")


def test_proxy_headers_need_an_email():
    assert proxy_headers_problem({"X-Forwarded-Email": "email", "X-Forwarded-User": "name"}) is None
    assert proxy_headers_problem({"X-Forwarded-User": "name"}) == (
        'Sign-in is misconfigured: server.trustedUserHeaders must map the header carrying the signed-in user\'s '
        'email to "email", e.g. {"X-Forwarded-Email" = "email"}.'
    )


def test_an_unreadable_roles_file_says_so(tmp_path):
    folder = tmp_path / "roles.yaml"
    folder.mkdir()
    with pytest.raises(RolesFileError, match=r"^The roles file .*roles\.yaml could not be read \(\[Errno 21\] Is a "):
        load_roles(folder)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00users")
    with pytest.raises(RolesFileError, match=r"^The roles file .*binary\.yaml could not be read \('utf-8' codec"):
        load_roles(binary)


def test_an_auth_value_that_is_not_a_table():
    assert auth_problem("microsoft") == "Sign-in is misconfigured: [auth] in secrets.toml must be a table."
