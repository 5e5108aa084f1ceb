"""Access points: an application's entry into a file system, with a POSIX identity and a root.

Every file operation through an access point is made as its `PosixUser` (uid, gid, secondary
gids), whatever the client's own user, and sees only the tree under its root directory
(https://docs.aws.amazon.com/efs/latest/ug/efs-access-points.html). The root directory is
created on first use, owned by `CreationInfo`'s uid and gid with its permissions, if it does not
exist yet and `CreationInfo` was given; without `CreationInfo` a missing root cannot be mounted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from gureum.efs.domain.errors import BadRequest
from gureum.efs.domain.file_systems import LifeCycleState
from gureum.efs.domain.tags import NAME

MAX_ACCESS_POINTS = 10_000  # per file system (AWS's quota since 2024)
MAX_DEPTH = 4  # the model's pattern: at most four components below /


@dataclass(frozen=True, slots=True)
class PosixUser:
    uid: int
    gid: int
    secondary_gids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CreationInfo:
    owner_uid: int
    owner_gid: int
    permissions: str  # octal, as given ("0755" or "755"): AWS answers it as given

    @property
    def mode(self) -> int:
        return int(self.permissions, 8)


@dataclass(frozen=True, slots=True)
class RootDirectory:
    path: str = "/"
    creation_info: CreationInfo | None = None

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(part for part in self.path.split("/") if part)


@dataclass(frozen=True, slots=True)
class AccessPointSpec:
    client_token: str
    file_system_id: str
    posix_user: PosixUser | None = None
    root_directory: RootDirectory = RootDirectory()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccessPoint:
    account: str
    region: str
    access_point_id: str
    spec: AccessPointSpec

    @property
    def file_system_id(self) -> str:
        return self.spec.file_system_id

    @property
    def name(self) -> str | None:
        return self.spec.tags.get(NAME)

    @property
    def tags(self) -> Mapping[str, str]:
        return self.spec.tags

    @property
    def state(self) -> LifeCycleState:
        return LifeCycleState.AVAILABLE

    def with_tags(self, tags: Mapping[str, str]) -> AccessPoint:
        return replace(self, spec=replace(self.spec, tags=dict(tags)))


def posix_user(raw: Mapping[str, object] | None) -> PosixUser | None:
    if raw is None:
        return None
    secondary = raw.get("SecondaryGids") or []
    assert isinstance(secondary, list)
    return PosixUser(_int(raw["Uid"]), _int(raw["Gid"]), tuple(_int(g) for g in secondary))


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def root_directory(raw: Mapping[str, object] | None) -> RootDirectory:
    """RootDirectory as the request gives it, checked: a normalised absolute path without `.`
    or `..` components, and CreationInfo's permissions as octal mode bits."""
    if raw is None:
        return RootDirectory()
    path = str(raw.get("Path") or "/")
    parts = path.split("/")
    if not path.startswith("/") or any(part in (".", "..") for part in parts):
        raise BadRequest(f"Path '{path}' is not a valid absolute path.")
    if path != "/" and (path.endswith("/") or "" in parts[1:]):
        raise BadRequest(f"Path '{path}' is not a valid absolute path.")
    if len(parts) - 1 > MAX_DEPTH:
        raise BadRequest(f"Path '{path}' has more than {MAX_DEPTH} components.")
    info = raw.get("CreationInfo")
    creation: CreationInfo | None = None
    if info is not None:
        assert isinstance(info, Mapping)
        permissions = str(info["Permissions"])
        if not (3 <= len(permissions) <= 4 and all(c in "01234567" for c in permissions)):
            raise BadRequest(f"Permissions '{permissions}' must be 3 or 4 octal digits.")
        creation = CreationInfo(_int(info["OwnerUid"]), _int(info["OwnerGid"]), permissions)
    return RootDirectory(path, creation)
