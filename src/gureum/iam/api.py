"""IAM's operations over the query protocol: each handler calls one service method and returns
the shape botocore's model names. Policy documents go out URL-encoded, as IAM sends them (the
SDKs decode them: botocore's `json_decode_policies`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from gureum.aws.frontend import CallContext, Handler
from gureum.iam.domain.entities import (
    AccessKeyRecord,
    Attachment,
    Holder,
    ManagedPolicy,
    PolicyVersion,
    Role,
    Tags,
    User,
)
from gureum.iam.domain.errors import IamValidationError, InvalidInput
from gureum.iam.services.holders import PolicyHolders
from gureum.iam.services.policies import PolicyService
from gureum.iam.services.roles import RoleService
from gureum.iam.services.users import UserService

Params = dict[str, Any]
Result = dict[str, Any]


def _document(text: str) -> str:
    return quote(text, safe="")


def _tags(tags: Tags) -> list[dict[str, str]] | None:
    return [{"Key": k, "Value": v} for k, v in tags] or None


def _page(key: str, items: list[Any], marker: str | None) -> Result:
    result: Result = {key: items, "IsTruncated": marker is not None}
    if marker is not None:
        result["Marker"] = marker
    return result


def role_view(role: Role, *, tags: bool = True) -> Result:
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": _document(role.trust_policy),
        "Description": role.description,
        "MaxSessionDuration": role.max_session,
        "Tags": _tags(role.tags) if tags else None,
    }


def user_view(user: User, *, tags: bool = True) -> Result:
    return {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.created,
        "Tags": _tags(user.tags) if tags else None,
    }


def policy_view(policy: ManagedPolicy, attachments: int, *, tags: bool = True) -> Result:
    return {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "Description": policy.description,
        "CreateDate": policy.created,
        "UpdateDate": policy.updated,
        "Tags": _tags(policy.tags) if tags else None,
    }


def version_view(policy: ManagedPolicy, version: PolicyVersion, *, document: bool = True) -> Result:
    return {
        "Document": _document(version.document) if document else None,
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == policy.default_version,
        "CreateDate": version.created,
    }


def key_view(key: AccessKeyRecord, *, secret: bool = False) -> Result:
    return {
        "UserName": key.user,
        "AccessKeyId": key.key_id,
        "Status": key.status.value,
        "SecretAccessKey": key.secret if secret else None,
        "CreateDate": key.created,
    }


def _attached(attachments: list[Attachment], marker: str | None) -> Result:
    views = [{"PolicyName": a.policy_name, "PolicyArn": a.policy_arn} for a in attachments]
    return _page("AttachedPolicies", views, marker)


def _caller_name(context: CallContext) -> str:
    """The user the caller signs as; IAM's refusal for any other kind of caller."""
    kind, _, rest = context.principal.partition(":user/")
    if not rest or not kind.startswith("arn:aws:iam::"):
        raise IamValidationError("Must specify userName when calling with non-User credentials")
    return rest.rsplit("/", 1)[-1]


class IamApi:
    def __init__(
        self,
        roles: RoleService,
        users: UserService,
        policies: PolicyService,
        holders: PolicyHolders,
    ) -> None:
        self._roles = roles
        self._users = users
        self._policies = policies
        self._holders = holders

    def handlers(self) -> Mapping[str, Handler]:
        handlers: dict[str, Handler] = {
            "CreateRole": self.create_role,
            "GetRole": self.get_role,
            "ListRoles": self.list_roles,
            "DeleteRole": self.delete_role,
            "UpdateAssumeRolePolicy": self.update_assume_role_policy,
            "UpdateRole": self.update_role,
            "UpdateRoleDescription": self.update_role_description,
            "TagRole": self.tag_role,
            "UntagRole": self.untag_role,
            "ListRoleTags": self.list_role_tags,
            "ListInstanceProfilesForRole": self.list_instance_profiles_for_role,
            "TagUser": self.tag_user,
            "UntagUser": self.untag_user,
            "ListUserTags": self.list_user_tags,
            "CreateUser": self.create_user,
            "GetUser": self.get_user,
            "ListUsers": self.list_users,
            "DeleteUser": self.delete_user,
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "ListPolicies": self.list_policies,
            "DeletePolicy": self.delete_policy,
            "CreatePolicyVersion": self.create_policy_version,
            "GetPolicyVersion": self.get_policy_version,
            "ListPolicyVersions": self.list_policy_versions,
            "SetDefaultPolicyVersion": self.set_default_policy_version,
            "DeletePolicyVersion": self.delete_policy_version,
            "CreateAccessKey": self.create_access_key,
            "ListAccessKeys": self.list_access_keys,
            "UpdateAccessKey": self.update_access_key,
            "DeleteAccessKey": self.delete_access_key,
        }
        for holder, noun in ((Holder.ROLE, "Role"), (Holder.USER, "User")):
            handlers[f"Put{noun}Policy"] = self._put_inline(holder)
            handlers[f"Get{noun}Policy"] = self._get_inline(holder)
            handlers[f"List{noun}Policies"] = self._list_inline(holder)
            handlers[f"Delete{noun}Policy"] = self._delete_inline(holder)
            handlers[f"Attach{noun}Policy"] = self._attach(holder)
            handlers[f"Detach{noun}Policy"] = self._detach(holder)
            handlers[f"ListAttached{noun}Policies"] = self._list_attached(holder)
        return handlers

    # --- roles ---------------------------------------------------------------------------

    def create_role(self, context: CallContext, params: Params) -> Result:
        _no_boundary(params)
        return {"Role": role_view(self._roles.create(context.account_id, params))}

    def get_role(self, context: CallContext, params: Params) -> Result:
        return {"Role": role_view(self._roles.get(context.account_id, params["RoleName"]))}

    def list_roles(self, context: CallContext, params: Params) -> Result:
        roles, marker = self._roles.listing(context.account_id, params)
        return _page("Roles", [role_view(r, tags=False) for r in roles], marker)

    def delete_role(self, context: CallContext, params: Params) -> Result:
        self._roles.delete(context.account_id, params["RoleName"])
        return {}

    def update_assume_role_policy(self, context: CallContext, params: Params) -> Result:
        self._roles.update_trust(context.account_id, params["RoleName"], params["PolicyDocument"])
        return {}

    def update_role(self, context: CallContext, params: Params) -> Result:
        self._roles.update(context.account_id, params["RoleName"], params)
        return {}

    def update_role_description(self, context: CallContext, params: Params) -> Result:
        self._roles.update(context.account_id, params["RoleName"], params)
        return {"Role": role_view(self._roles.get(context.account_id, params["RoleName"]))}

    def tag_role(self, context: CallContext, params: Params) -> Result:
        self._roles.tag(context.account_id, params["RoleName"], params["Tags"])
        return {}

    def untag_role(self, context: CallContext, params: Params) -> Result:
        self._roles.untag(context.account_id, params["RoleName"], params["TagKeys"])
        return {}

    def list_role_tags(self, context: CallContext, params: Params) -> Result:
        role = self._roles.get(context.account_id, params["RoleName"])
        return _page("Tags", _tags(role.tags) or [], None)

    def list_instance_profiles_for_role(self, context: CallContext, params: Params) -> Result:
        # gureum has no instance profiles; tools (Terraform) ask before deleting a role.
        self._roles.get(context.account_id, params["RoleName"])
        return _page("InstanceProfiles", [], None)

    def tag_user(self, context: CallContext, params: Params) -> Result:
        self._users.tag(context.account_id, params["UserName"], params["Tags"])
        return {}

    def untag_user(self, context: CallContext, params: Params) -> Result:
        self._users.untag(context.account_id, params["UserName"], params["TagKeys"])
        return {}

    def list_user_tags(self, context: CallContext, params: Params) -> Result:
        user = self._users.get(context.account_id, params["UserName"])
        return _page("Tags", _tags(user.tags) or [], None)

    # --- users ---------------------------------------------------------------------------

    def create_user(self, context: CallContext, params: Params) -> Result:
        _no_boundary(params)
        return {"User": user_view(self._users.create(context.account_id, params))}

    def get_user(self, context: CallContext, params: Params) -> Result:
        name = params.get("UserName")
        if name is None and context.principal.endswith(":root"):
            # The root user is no IAM user: IAM describes it by its account.
            root = {"UserId": context.account_id, "Arn": context.principal}
            return {"User": root}
        user = self._users.get(context.account_id, name or _caller_name(context))
        return {"User": user_view(user)}

    def list_users(self, context: CallContext, params: Params) -> Result:
        users, marker = self._users.listing(context.account_id, params)
        return _page("Users", [user_view(u, tags=False) for u in users], marker)

    def delete_user(self, context: CallContext, params: Params) -> Result:
        self._users.delete(context.account_id, params["UserName"])
        return {}

    # --- access keys ---------------------------------------------------------------------

    def create_access_key(self, context: CallContext, params: Params) -> Result:
        name = params.get("UserName") or _caller_name(context)
        key = self._users.create_key(context.account_id, name)
        return {"AccessKey": key_view(key, secret=True)}

    def list_access_keys(self, context: CallContext, params: Params) -> Result:
        name = params.get("UserName") or _caller_name(context)
        keys = self._users.keys(context.account_id, name)
        return _page("AccessKeyMetadata", [key_view(k) for k in keys], None)

    def update_access_key(self, context: CallContext, params: Params) -> Result:
        name = params.get("UserName") or _caller_name(context)
        self._users.update_key(context.account_id, name, params["AccessKeyId"], params["Status"])
        return {}

    def delete_access_key(self, context: CallContext, params: Params) -> Result:
        name = params.get("UserName") or _caller_name(context)
        self._users.delete_key(context.account_id, name, params["AccessKeyId"])
        return {}

    # --- managed policies ----------------------------------------------------------------

    def create_policy(self, context: CallContext, params: Params) -> Result:
        policy = self._policies.create(context.account_id, params)
        return {"Policy": policy_view(policy, 0)}

    def get_policy(self, context: CallContext, params: Params) -> Result:
        policy, attachments = self._policies.get(context.account_id, params["PolicyArn"])
        return {"Policy": policy_view(policy, attachments)}

    def list_policies(self, context: CallContext, params: Params) -> Result:
        found, marker = self._policies.listing(context.account_id, params)
        views = [policy_view(p, n, tags=False) for p, n in found]
        return _page("Policies", views, marker)

    def delete_policy(self, context: CallContext, params: Params) -> Result:
        self._policies.delete(context.account_id, params["PolicyArn"])
        return {}

    def create_policy_version(self, context: CallContext, params: Params) -> Result:
        arn = params["PolicyArn"]
        version = self._policies.create_version(
            context.account_id, arn, params["PolicyDocument"], params.get("SetAsDefault", False)
        )
        view = {
            "VersionId": version.version_id,
            "IsDefaultVersion": params.get("SetAsDefault", False),
            "CreateDate": version.created,
        }
        return {"PolicyVersion": view}

    def get_policy_version(self, context: CallContext, params: Params) -> Result:
        policy, version = self._policies.version(
            context.account_id, params["PolicyArn"], params["VersionId"]
        )
        return {"PolicyVersion": version_view(policy, version)}

    def list_policy_versions(self, context: CallContext, params: Params) -> Result:
        policy = self._policies.versions(context.account_id, params["PolicyArn"])
        newest_first = sorted(policy.versions, key=lambda v: int(v.version_id[1:]), reverse=True)
        views = [version_view(policy, v, document=False) for v in newest_first]
        return _page("Versions", views, None)

    def set_default_policy_version(self, context: CallContext, params: Params) -> Result:
        self._policies.set_default(context.account_id, params["PolicyArn"], params["VersionId"])
        return {}

    def delete_policy_version(self, context: CallContext, params: Params) -> Result:
        self._policies.delete_version(context.account_id, params["PolicyArn"], params["VersionId"])
        return {}

    # --- inline and attached policies, for roles and users alike ---------------------------

    def _put_inline(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def put(context: CallContext, params: Params) -> Result:
            self._holders.put_inline(
                context.account_id,
                holder,
                params[owner_key],
                params["PolicyName"],
                params["PolicyDocument"],
            )
            return {}

        return put

    def _get_inline(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def get(context: CallContext, params: Params) -> Result:
            owner, document = self._holders.get_inline(
                context.account_id, holder, params[owner_key], params["PolicyName"]
            )
            return {
                owner_key: owner,
                "PolicyName": params["PolicyName"],
                "PolicyDocument": _document(document),
            }

        return get

    def _list_inline(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def listing(context: CallContext, params: Params) -> Result:
            names, marker = self._holders.list_inline(
                context.account_id,
                holder,
                params[owner_key],
                params.get("Marker"),
                params.get("MaxItems"),
            )
            return _page("PolicyNames", names, marker)

        return listing

    def _delete_inline(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def delete(context: CallContext, params: Params) -> Result:
            self._holders.delete_inline(
                context.account_id, holder, params[owner_key], params["PolicyName"]
            )
            return {}

        return delete

    def _attach(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def attach(context: CallContext, params: Params) -> Result:
            self._holders.attach(context.account_id, holder, params[owner_key], params["PolicyArn"])
            return {}

        return attach

    def _detach(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def detach(context: CallContext, params: Params) -> Result:
            self._holders.detach(context.account_id, holder, params[owner_key], params["PolicyArn"])
            return {}

        return detach

    def _list_attached(self, holder: Holder) -> Handler:
        owner_key = f"{holder.value.capitalize()}Name"

        def listing(context: CallContext, params: Params) -> Result:
            found, marker = self._holders.attached(
                context.account_id,
                holder,
                params[owner_key],
                params.get("Marker"),
                params.get("MaxItems"),
                params.get("PathPrefix", "/"),
            )
            return _attached(found, marker)

        return listing


def _no_boundary(params: Params) -> None:
    """Permissions boundaries are not evaluated yet: refused, never stored and ignored."""
    if params.get("PermissionsBoundary"):
        raise InvalidInput("gureum does not support permissions boundaries yet.")
