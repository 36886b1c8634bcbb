"""People for command-line tests: users of a data folder with a password, a second factor
(administrators) and a bearer token, and the environment each acts in
(`cli.base.Context.person`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from registry.bootstrap import build_registry
from registry.credentials import totp_now
from registry.seed_users import issue_in, user_for


@dataclass(frozen=True)
class CliPerson:
    user_id: str
    login: str
    password: str
    totp_secret: str | None
    token: str
    folder: str

    def env(self) -> dict[str, str]:
        """Acting through a bearer token of the user (``REGISTRY_TOKEN``)."""
        return {"REGISTRY_DATA_DIR": self.folder, "REGISTRY_TOKEN": self.token}

    def login_env(self, *, password: str | None = None) -> dict[str, str]:
        """Acting by login, password and the current one-time code (good once per step)."""
        env = {"REGISTRY_DATA_DIR": self.folder, "REGISTRY_LOGIN": self.login,
               "REGISTRY_PASSWORD": password or self.password}
        if self.totp_secret is not None:
            env["REGISTRY_TOTP"] = totp_now(self.totp_secret, datetime.now(UTC))
        return env


def cli_people(folder: Path, *principals: tuple[str, str]) -> list[CliPerson]:
    """A `CliPerson` per (role, subject) in ``folder``'s registry, created as needed."""
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    at = datetime.now(UTC).isoformat()
    try:
        people = []
        for role, subject in principals:
            user = user_for(registry, role, subject)
            password = f"pw-of-{user.login}-for-tests"
            registry.users.set_password(user_id=user.user_id, password=password, by=user.user_id,
                                        at=at)
            secret = (registry.users.enroll_second_factor(user_id=user.user_id, by=user.user_id,
                                                          at=at)
                      if "administrator" in user.roles else None)
            _, token = issue_in(registry, role, subject)
            people.append(CliPerson(user.user_id, user.login, password, secret, token,
                                    str(folder)))
        return people
    finally:
        registry.close()
