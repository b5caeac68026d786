"""Who a page is for, in the app: the team's exact figures or the released view, and the release behind it.

The audience comes from `ehmap.audience.audience_for` (the user's role, and for the team a sidebar switch to see
the released view as it will be shared; projector mode, `ui.present`, is always released); pages get it from
`page_context` and never decide it themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ehmap.access import User
from ehmap.audience import Audience, audience_for, marking
from ehmap.audit import record
from ehmap.ingest import IngestResult
from ehmap.release.gate import Release, ReleaseInputs, build_release
from ui.datasets import session_user
from ui.frame import require_frame
from ui.present import hide_the_rest, presenting
from ui.state import DatasetInUse, council_names, current_dataset, dataset_for_council, hotspot_areas, selected_council

SHOW_RELEASED_KEY = "show_released"  # a team member's switch to see the released view
EXACT_VIEWS_KEY = "_ehmap_exact_views"  # (page, dataset) pairs whose exact view this session has audited


@dataclass(frozen=True)
class PageContext:
    """What every analysis page starts from: the council, the dataset, who is looking and which audience they get."""

    la_code: str
    council: str
    dataset: DatasetInUse
    user: User
    audience: Audience
    projected: bool = False  # projector mode: shown to a room, so always the released view

    @property
    def result(self) -> IngestResult:
        return self.dataset.result

    @property
    def cases(self) -> pd.DataFrame:
        return self.dataset.result.cases

    @property
    def team(self) -> bool:
        return self.audience is Audience.TEAM


def audience_switch(user: User) -> bool:
    """The sidebar switch a team member uses to see the released view (viewers have no switch: always released)."""
    if not user.sees_exact:
        return True
    return st.sidebar.toggle("Show the released view (as shared)", key=SHOW_RELEASED_KEY,
                             help="What a viewer, a workshop screen or a partner would see: figures protected by "
                                  "the release gate. Off: your team's exact figures.")


def current_audience(user: User) -> Audience:
    """The audience this run shows, read without drawing the switch (the team's switch as last set; a projected
    page is always released): what `page_context` decides, for code that runs before or after the page."""
    return audience_for(user, not user.sees_exact or bool(st.session_state.get(SHOW_RELEASED_KEY)),
                        projected=presenting())


def page_context(title: str) -> PageContext:
    """Title the page for the chosen council, say which audience it is for, and stop when the data covers another."""
    require_frame()
    user = session_user()
    projected = presenting()
    audience = audience_for(user, audience_switch(user), projected=projected)
    la_code = selected_council()
    council = council_names()[la_code]
    if projected:
        hide_the_rest()
    st.title(f"{title}: {council}", anchor=False)
    _, _, problem = dataset_for_council(la_code)
    if problem:
        st.warning(problem)
        st.stop()
    dataset = current_dataset()
    if audience is Audience.TEAM:
        st.warning(marking(audience), icon="🔒")
        _audit_exact_view(title, dataset, user)
    else:
        st.success(marking(audience), icon="🛡️")
    return PageContext(la_code, council, dataset, user, audience, projected)


def _audit_exact_view(page: str, dataset: DatasetInUse, user: User) -> None:
    """One audit entry per page and dataset per session when a team member sees exact figures."""
    seen = st.session_state.setdefault(EXACT_VIEWS_KEY, set())
    if (page, str(dataset.id)) not in seen:
        seen.add((page, str(dataset.id)))
        record("view_exact", user, str(dataset.id), {"page": page, "council": dataset.la_code})


@st.cache_resource(show_spinner="Protecting the released figures (every table is checked together)...",
                   max_entries=8)
def _release(la_code: str, dataset_id: str, content: str, reference: tuple, _cases: pd.DataFrame) -> Release:
    """One release per dataset and content, shared by every session (a frozen object read, never changed)."""
    geographies = {"lsoa11": hotspot_areas("lsoa11", la_code)}
    try:
        geographies["ward"] = hotspot_areas("ward", la_code)
    except FileNotFoundError:
        pass  # without the ward lookup a release is on LSOAs only
    return build_release(ReleaseInputs(_cases, la_code, geographies, release_deciles()))


def release_deciles() -> pd.Series | None:
    """National IMD decile per LSOA 2011 (IoD2019) for released deprivation views, or None when not loaded."""
    from ui.state import indicator_on_lsoa11

    item, _ = indicator_on_lsoa11("iod2019")
    if item is None or "imd_decile" not in item.values:
        return None
    return item.values.set_index("lsoa11cd")["imd_decile"]


def dataset_release(context: PageContext) -> Release:
    """The release of the dataset in use (built once per dataset, content and reference files, then shared)."""
    from ehmap.config import data_dir
    from ui.state import reference_signature

    dataset = context.dataset
    content = dataset.info.content_hash if dataset.info is not None else f"demo-{len(context.cases)}"
    reference = (str(data_dir()), reference_signature("iod2019"))  # rebuilt when the reference files change
    return _release(context.la_code, str(dataset.id), content, reference, context.cases)


def forget_releases() -> None:
    """Drop every cached release (after a dataset is deleted or replaced)."""
    _release.clear()
