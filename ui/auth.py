"""Who is looking, in the app: the sign-in gate at the top of app.py and the user box in the sidebar.

Three ways of knowing the user (`sign_in_mode`):

- "oidc": secrets.toml has an `[auth]` table, so users sign in with Streamlit's `st.login` (OpenID Connect, e.g.
  Microsoft Entra ID). `st.user` then holds the ID token's claims (`email`, `name`, `roles`...) and
  `is_logged_in`, read from Streamlit's identity cookie when the session starts.
- "proxy": `server.trustedUserHeaders` maps a trusted reverse proxy's headers to keys of `st.user` (experimental in
  Streamlit 1.67). Streamlit reads those headers from the browser's WebSocket request when a session starts (not on
  later reruns), puts each header's first value under its mapped key (None when the header is absent) and sets no
  `is_logged_in`. ehmap needs a header mapped to `email`; one mapped to `name` is shown, and one mapped to a claim
  named in the roles file (e.g. `roles`, comma-separated) is matched like an OIDC claim.
- "laptop": neither, so the app serves this machine only and its one user is `ehmap.access.laptop_user()`.

Audit: a sign-in (once per session), a refusal (signed in, no role; once per session) and a sign-out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import streamlit as st

from ehmap.access import (
    RolesFileError,
    User,
    allowed_councils,
    auth_problem,
    claim_email,
    laptop_user,
    listen_problem,
    load_roles,
    proxy_headers_problem,
    sign_in_providers,
)
from ehmap.audit import record
from ehmap.text import one_line, plain

SIGNED_IN_KEY = "_ehmap_signed_in"  # the user id whose sign-in this session has recorded
REFUSED_KEY = "_ehmap_refused"  # the user id whose refusal this session has recorded
NO_ROLE = "You are signed in as {who} but have no role in this ehmap; ask your ehmap admin."


def shown(text: str) -> str:
    """An identity from outside (email, name) for Markdown, shown as typed: escaped, or as code when Markdown would
    turn it into a link (an email address)."""
    if "@" in text or "://" in text or "www." in text:
        return "`" + one_line(text).replace("`", "'") + "`"
    return plain(text)


def auth_settings() -> dict | None:
    """The `[auth]` table of the secrets Streamlit loaded, or None when there is none."""
    if not st.secrets.load_if_toml_exists():
        return None
    auth = st.secrets.get("auth")
    if auth is None:
        return None
    return auth.to_dict() if hasattr(auth, "to_dict") else dict(auth)


def trusted_headers() -> dict:
    """`server.trustedUserHeaders`: header name -> key of `st.user` (empty when not configured)."""
    value = st.get_option("server.trustedUserHeaders")
    return value if isinstance(value, dict) else {}


def sign_in_mode() -> str:
    """"oidc" ([auth] secrets), "proxy" (trusted headers) or "laptop" (no sign-in configured)."""
    if auth_settings() is not None:
        return "oidc"
    return "proxy" if trusted_headers() else "laptop"


def current_user() -> User | None:
    """The user of this session: from `st.user` when signed in through OIDC, from the trusted proxy's headers,
    else laptop mode's user when no sign-in is configured; None when sign-in is configured but nobody has signed
    in. Raises RolesFileError when the roles file is missing or wrong."""
    mode = sign_in_mode()
    if mode == "laptop":
        return laptop_user()
    claims = st.user.to_dict()
    if mode == "oidc" and not claims.get("is_logged_in"):
        return None
    if mode == "proxy" and not claim_email(claims):
        return None
    return load_roles().user_for(claims, mode)


def _configuration_problem() -> str | None:
    """Why the app must not serve at all (one line), or None."""
    auth, headers = auth_settings(), trusted_headers()
    if auth is not None and (problem := auth_problem(auth)):
        return problem
    if auth is None and headers and (problem := proxy_headers_problem(headers)):
        return problem
    if st.get_option("global.appTest"):  # run headless by AppTest: nothing is listening
        return None
    return listen_problem(st.get_option("server.address") or "", auth is not None or bool(headers))


def _only(render: Callable[[], None]) -> NoReturn:
    """Show nothing but `render`, as the app's one hidden page (no navigation, no other page), then stop."""
    st.navigation([st.Page(render, title="ehmap", url_path="sign-in")], position="hidden").run()
    st.stop()


def _sign_out(user: User) -> None:
    record("sign_out", user, detail={"mode": user.mode})
    st.logout()


def _sign_out_button(user: User | None, where=st) -> None:
    if sign_in_mode() == "oidc":
        if user is None:
            where.button("Sign out", on_click=st.logout)
        else:
            where.button("Sign out", on_click=_sign_out, args=(user,))


def sign_in_gate() -> User:
    """Return who is looking, or stop the run showing only: the reason the app will not serve; a sign-in button;
    or, for a signed-in user without a role, a message and a sign-out button. Never navigation or data."""
    problem = _configuration_problem()
    if problem:
        _only(lambda: st.error(plain(problem)))
    try:
        user = current_user()
    except RolesFileError as error:
        _refuse(plain(str(error)), None, st.error)
    if user is None:
        _only(_sign_in_screen)
    if user.role is None:
        if st.session_state.get(REFUSED_KEY) != user.id:
            record("refused", user, detail={"mode": user.mode})
            st.session_state[REFUSED_KEY] = user.id
        _refuse(NO_ROLE.format(who=shown(user.id)), user)
    if user.councils is not None:
        from ui.state import council_names

        if not allowed_councils(user, council_names()):
            _refuse(f"Your role in this ehmap is for councils {', '.join(user.councils)}, which ehmap does not know; "
                    "ask your ehmap admin.", user)
    if user.mode != "laptop" and st.session_state.get(SIGNED_IN_KEY) != user.id:
        record("sign_in", user, detail={"mode": user.mode})
        st.session_state[SIGNED_IN_KEY] = user.id
    return user


def _refuse(message: str, user: User | None, show: Callable[[str], object] = st.warning) -> NoReturn:
    """Show only `message` and a sign-out button, then stop."""

    def refusal() -> None:
        show(message)
        _sign_out_button(user)

    _only(refusal)


def _sign_in_screen() -> None:
    st.title("ehmap", anchor=False)
    if sign_in_mode() == "proxy":
        st.warning("Your sign-in did not reach ehmap: the proxy in front of it sent no email. Ask your ehmap admin.")
        return
    providers = sign_in_providers(auth_settings())
    for provider in providers:
        label = "Sign in" if len(providers) == 1 else f"Sign in with {provider}"
        if st.button(label, key=f"sign_in_{provider}", type="primary"):
            st.login(provider)


def user_box(user: User, council_names: dict[str, str]) -> None:
    """Who is signed in, their role and councils, and a sign-out button (sidebar)."""
    with st.sidebar.container(border=True):
        st.markdown(f"**{shown(user.name)}**")
        st.caption(f"Role: {user.role}")
        if user.councils is None:
            st.caption("Councils: all")
        else:
            councils = [f"{council_names.get(code, code)} ({code})" for code in user.councils]
            st.caption(plain(f"Councils: {', '.join(councils)}"))
        if user.mode == "laptop":
            st.caption("Laptop mode: no sign-in, and only this computer can open the app.")
        _sign_out_button(user, st)
