"""Who is looking: the signed-in user, their role and the councils they may see (no Streamlit here).

Roles (from the roles file; see README "Deploying"): `admin` manages datasets, users' roles, settings and
reference files; `analyst` uploads and sees exact figures; `viewer` sees released views only. A user who is
not in the roles file has no role and sees nothing but a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a user may do; each role can do everything the roles after it can."""

    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


TEAM_ROLES = frozenset({Role.ADMIN, Role.ANALYST})  # roles that see the team's exact figures


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
