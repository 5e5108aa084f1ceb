"""STS's operations over the query protocol: GetCallerIdentity and AssumeRole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.iam.domain.documents import size_of
from gureum.sts.domain.sessions import packed_size
from gureum.sts.services.sessions import Caller, SessionService

Params = dict[str, Any]
Result = dict[str, Any]


class StsApi:
    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "GetCallerIdentity": self.get_caller_identity,
            "AssumeRole": self.assume_role,
        }

    def get_caller_identity(self, context: CallContext, params: Params) -> Result:
        return {"UserId": context.user_id, "Account": context.account_id, "Arn": context.principal}

    def assume_role(self, context: CallContext, params: Params) -> Result:
        caller = Caller(context.account_id, context.principal, context.user_id)
        issued = self._sessions.assume_role(caller, params)
        session = issued.session
        result: Result = {
            "Credentials": {
                "AccessKeyId": session.access_key_id,
                "SecretAccessKey": issued.secret,
                "SessionToken": issued.token,
                "Expiration": session.expires,
            },
            "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn},
        }
        if session.policy is not None:
            result["PackedPolicySize"] = packed_size(size_of(session.policy))
        if "SourceIdentity" in params:
            result["SourceIdentity"] = params["SourceIdentity"]
        return result
