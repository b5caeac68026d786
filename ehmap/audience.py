"""Two audiences: the team, who hold these records and see exact figures, and everyone the figures are shared with.

The *team* audience (admins and analysts) sees exact counts and statistics computed on the true counts; a count
under 6 is flagged "fewer than 6: interpret with care", never hidden. Everything that leaves the team (a viewer's
screen, a workshop projector, the board paper, a CSV for partners) is the *release* audience and is read from the
release gate (`ehmap.release`), which protects all shared outputs together. Which audience a user gets is decided
here, never in a page.
"""

from __future__ import annotations

from enum import StrEnum

from ehmap.access import User

SMALL = 6  # team figures below this (and above 0) are flagged
SMALL_FLAG = "fewer than 6: interpret with care"


class Audience(StrEnum):
    TEAM = "team"
    RELEASE = "release"


TEAM_MARKING = (
    "Team view: exact figures for authorised staff only. Not for sharing: use the released view for anything that "
    "leaves the team. Counts under 6 are flagged, not hidden: interpret them with care."
)
RELEASE_MARKING = "Released view: figures protected for sharing by ehmap's release gate."


def audience_for(user: User, wants_release: bool = False, projected: bool = False) -> Audience:
    """The team view for a user who sees exact figures and has not asked for the released view; else the release.

    A projected screen (projector mode) is shown to a room, so it always gets the release, whoever is driving it.
    """
    if user.sees_exact and not wants_release and not projected:
        return Audience.TEAM
    return Audience.RELEASE


def marking(audience: Audience) -> str:
    """The line every output carries: not for sharing (team) or protected for sharing (release)."""
    return TEAM_MARKING if audience is Audience.TEAM else RELEASE_MARKING


def small(counts):
    """True where a team count is between 1 and 5: shown exactly, flagged for care."""
    return (counts > 0) & (counts < SMALL)
