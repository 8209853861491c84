"""The service layer (:mod:`api.services`) checks the principal itself: called directly, as the console
calls it, each operation refuses the roles its route refuses (403) and the ids its route's path refuses
(422), before it touches the state or the database (both ``None`` here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from api.deps import ROLES, Principal
from api.errors import ApiError
from api.schemas.events import EventIn
from api.services import enterprises, events, imports, matching, models, reports

IDS = {"investor": {"investor_id": 1}, "enterprise": {"enterprise_id": 1}}
EVENT = EventIn(event_id="svc-1", event_type="saved", investor_id=1, enterprise_id=1)  # type: ignore[arg-type]

#: (operation, the roles that may call it, a call with state and connection None and, where the operation
#: takes one, an argument its route would refuse)
OPERATIONS: list[tuple[str, tuple[str, ...], Callable[[Principal], Any]]] = [
    ("deal_list", matching.INVESTOR_SIDE, lambda who: matching.deal_list(None, who, 0, None)),  # type: ignore[arg-type]
    ("investor_list", matching.ENTERPRISE_SIDE,
     lambda who: matching.investor_list(None, who, 0, None)),  # type: ignore[arg-type]
    ("secondary_list", matching.INVESTOR_SIDE, lambda who: matching.secondary_list(None, who, 0, 20)),  # type: ignore[arg-type]
    ("search_list", ("investor", "enterprise", "operator", "admin"),
     lambda who: matching.search_list(None, who, "", "enterprise", None)),  # type: ignore[arg-type]
    ("record_event", events.REPORTERS, lambda who: events.record_event(None, None, who, EVENT)),  # type: ignore[arg-type]
    ("profile", tuple(ROLES), lambda who: enterprises.profile(None, who, 0)),
    ("outcome_report", ("admin", "operator"), lambda who: reports.outcome_report(None, who, None, None, "nope")),
    ("list_models", models.SCIENTISTS, lambda who: models.list_models(None, None, who)),  # type: ignore[arg-type]
    ("promote_version", models.SCIENTISTS,
     lambda who: models.promote_version(None, None, who, "../../etc", None)),  # type: ignore[arg-type]
    ("upload", ("admin", "operator"), lambda who: imports.upload(None, who, "nope", "x.csv", None)),  # type: ignore[arg-type]
]
#: Operations whose call above has no refused argument (the roles allowed would reach the database).
NO_BAD_ARGUMENT = ("record_event", "list_models")
CASES = [(name, role, role in allowed, call) for name, allowed, call in OPERATIONS for role in ROLES
         if role not in allowed or name not in NO_BAD_ARGUMENT]


@pytest.mark.parametrize(("name", "role", "allowed", "call"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_operation_checks_the_role_and_then_the_arguments(name: str, role: str, allowed: bool,
                                                               call: Callable[[Principal], Any]) -> None:
    who = Principal(key_id=1, key_shown="cck_test_…", role=role, **IDS.get(role, {}))
    with pytest.raises(ApiError) as raised:
        call(who)
    assert raised.value.status == (422 if allowed else 403), (name, role, raised.value.en)
