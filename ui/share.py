"""Share links in the app: a view's choices restored from the URL query on arrival, written back after each run, and
the sidebar's "Copy link to this view" (the choices themselves: `ehmap.share`).

On arrival at a link (a query this session has not restored or written), `restore_frame` copies its council and
dataset into the sidebar widgets' state before they are drawn, and `restore_page` the page's need, period,
geography, measure and statistic before the page runs; later changes to the widgets win, since the query is then
the one `sync_link` wrote. The audience is never in a link: whoever opens one gets their own (a viewer, the
released view), and the period is mapped to what that audience can choose. A page that stops early (st.stop, e.g.
data for another council) leaves the URL as it was and shows no copy control.
"""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ehmap.audience import Audience
from ehmap.referral_period import ChosenPeriod, full_span
from ehmap.release.universe import Calendar
from ehmap.share import (
    COUNCIL,
    DATASET,
    FIELDS,
    PERIOD,
    Decoded,
    decode,
    encode,
    link_dates,
    page_view,
    period_keys,
    release_key,
    team_dates,
)
from ehmap.text import plain
from ui.audience import current_audience
from ui.datasets import session_user
from ui.state import COUNCIL_KEY, DATASET_KEY, PERIOD_KEY, SWITCH_TO_DATASET_KEY, DatasetInUse, dataset_key
from ui.views import RELEASE_PERIOD_KEY

SEEN_KEY = "_ehmap_link_seen"  # the query this session last restored from or wrote
ARRIVAL_KEY = "_ehmap_link_arrival"  # the query of an arrival, between restore_frame and restore_page
SIGN_IN_HINT = ("You followed a link to a view. Signing in brings you to ehmap's home page: open your link again "
                "after signing in to see the view it shares.")


def sign_in_hint() -> None:
    """Above the sign-in screen, for a link followed before signing in: st.login comes back to the app's own address
    without the link's query, so say to open the link again (nothing of the view is kept in a cookie)."""
    from ui.auth import sign_in_mode

    if _link_params() and sign_in_mode() == "oidc" and not st.user.to_dict().get("is_logged_in"):
        st.info(SIGN_IN_HINT, icon="🔗")


def _audience() -> Audience:
    """The audience the page will get, as `ui.audience.page_context` decides it."""
    return current_audience(session_user())


def _link_params() -> dict[str, str]:
    """The share link's parameters in the URL query (other parameters, e.g. projector mode's, are not its own)."""
    return {name: value for name, value in st.query_params.to_dict().items() if name in FIELDS}


def restore_frame(councils: dict[str, str]) -> None:
    """Before the sidebar's widgets: on arrival at a link, choose its council and dataset (when this user may)."""
    params = _link_params()
    if not params or params == st.session_state.get(SEEN_KEY):
        return
    st.session_state[SEEN_KEY] = params
    st.session_state[ARRIVAL_KEY] = params
    decoded = decode(params, "", _audience(), frozenset(councils))
    if COUNCIL in decoded.values:
        st.session_state[COUNCIL_KEY] = decoded.values[COUNCIL]
    if DATASET in decoded.values:
        st.session_state[SWITCH_TO_DATASET_KEY] = decoded.values[DATASET]  # chosen only if offered


def restore_page(page: StreamlitPage, dataset: DatasetInUse, councils: dict[str, str]) -> None:
    """Before the page runs: on arrival at a link, set the page's choices and the shared period, and say in one
    line what the link asked for that this view cannot show."""
    params = st.session_state.pop(ARRIVAL_KEY, None)
    if not params:
        return
    audience = _audience()
    decoded = decode(params, page.url_path, audience, frozenset(councils))
    notes = [decoded.note()]
    if DATASET in decoded.values and st.session_state.get(DATASET_KEY) != decoded.values[DATASET]:
        notes.append("The link's dataset is not one you can open for this council; showing the one chosen here.")
    view = page_view(page.url_path)
    for name, value in decoded.values.items():
        choice = view.choice(name, audience)
        if choice is not None:
            st.session_state[choice.key] = value
    if PERIOD in decoded.values:
        notes.append(_restore_period(decoded, dataset, audience))
    shown = " ".join(note for note in notes if note)
    if shown:
        st.info(plain(shown), icon="🔗")


def _restore_period(decoded: Decoded, dataset: DatasetInUse, audience: Audience) -> str | None:
    """Set the shared period from the link's (the team's dates, or a released year), for every page's picker."""
    team_keys, release_keys = period_keys()
    cases = dataset.result.cases
    if audience is Audience.TEAM:
        (start, end), note = team_dates(decoded.values[PERIOD], *full_span(cases))
        st.session_state[PERIOD_KEY] = ChosenPeriod(dataset_key(dataset), start, end)
        stale = team_keys  # a picker without state starts from the shared period
    else:
        years = [year.key for year in Calendar.of(cases).years]
        st.session_state[RELEASE_PERIOD_KEY], note = release_key(decoded.values[PERIOD], years)
        stale = release_keys
    for key in stale:
        st.session_state.pop(key, None)
    return note


def current_choices(page: StreamlitPage, dataset: DatasetInUse) -> dict[str, object]:
    """The view's choices after the page has run: council, dataset and the page's own, for this audience."""
    state, audience = st.session_state, _audience()
    values: dict[str, object] = {COUNCIL: state.get(COUNCIL_KEY), DATASET: dataset.id}
    view = page_view(page.url_path)
    for name, by_audience in view.choices.items():
        choice = by_audience.get(audience)
        if choice is not None and choice.key in state:
            values[name] = state[choice.key]
    if view.period:
        if audience is Audience.TEAM:
            chosen = state.get(PERIOD_KEY)
            if isinstance(chosen, ChosenPeriod) and chosen.dataset == dataset_key(dataset):
                values[PERIOD] = link_dates(chosen.start, chosen.end, *full_span(dataset.result.cases))
        elif RELEASE_PERIOD_KEY in state:
            values[PERIOD] = state[RELEASE_PERIOD_KEY]
    return values


def sync_link(page: StreamlitPage, dataset: DatasetInUse) -> dict[str, str]:
    """After the page has run: write the view's choices into the URL query; returns them."""
    params = encode(current_choices(page, dataset))
    query = st.query_params.to_dict()
    wanted = params | {name: value for name, value in query.items() if name not in FIELDS}  # others kept
    if query != wanted:
        st.query_params.from_dict(wanted)
    st.session_state[SEEN_KEY] = params
    return params


def app_address() -> str:
    """The app's address as the browser sees it (no page path or query), else from the request's Host header."""
    url = st.context.url
    if url:
        return url.rstrip("/")
    host = st.context.headers.get("host") if st.context.headers else None
    return f"http://{host}" if host else ""


def share_link(page: StreamlitPage, params: dict[str, str]) -> str:
    """The link to a page's view."""
    query = f"?{urlencode(params)}" if params else ""
    return f"{app_address()}/{page.url_path}{query}"


def copy_link_control(page: StreamlitPage, dataset: DatasetInUse) -> None:
    """Sync the URL with the view, then offer "Copy link to this view" in the sidebar: a popover holding the link
    with st.code's copy button. Closed until asked, because a code block loads Streamlit's syntax highlighter, which
    cost about 150 ms of the browser's main thread before the first map was drawn."""
    link = share_link(page, sync_link(page, dataset))
    with st.sidebar.popover("Copy link to this view"):
        st.code(link, language=None, wrap_lines=True)
        st.caption("The link holds your choices only, never figures. Opening it needs the same sign-in; a viewer "
                   "sees the released figures.")
