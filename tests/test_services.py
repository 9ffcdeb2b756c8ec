"""The task and user services, called directly over a real session on each backend."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import add_plain_tasks, is_postgres_backend
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from sorted_cli.choices import Priority, SortKey, View
from sorted_cli.config import load_settings
from sorted_cli.database import Database
from sorted_cli.errors import (
    AmbiguousReference,
    Cancelled,
    DuplicateUser,
    InvalidInput,
    InvalidReference,
    NoCurrentUser,
    TaskInTrash,
    TaskNotFound,
)
from sorted_cli.models import Task, TaskCreate, TaskUpdate, User, UserCreate, validated
from sorted_cli.services import tasks, users
from sorted_cli.services.tasks import TaskQuery


def add(session: Session, user: User, title: str, **fields: object) -> Task:
    return tasks.create_task(
        session=session, user=user, data=validated(TaskCreate, title=title, **fields)
    )


def numbers(page: tasks.TaskPage) -> list[int]:
    return [task.number for task in page.tasks]


def listed(session: Session, user: User, **query: object) -> list[int]:
    return numbers(tasks.list_tasks(session=session, user=user, query=TaskQuery(**query)))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ numbering


def test_numbers_count_up_per_user_and_are_never_reused(
    session: Session, ada: User, grace: User
) -> None:
    assert [add(session, ada, f"a{i}").number for i in range(3)] == [1, 2, 3]
    assert add(session, grace, "g").number == 1
    tasks.delete_tasks(session=session, user=ada, refs=["3"])
    assert add(session, ada, "after delete").number == 4


def test_a_failed_add_leaves_no_gap(session: Session, ada: User) -> None:
    add(session, ada, "one")
    # Unvalidated on purpose: the INSERT fails (NOT NULL) after the counter has moved.
    broken = TaskCreate.model_construct(
        title=None,  # type: ignore[arg-type]
        description=None,
        priority=Priority.none,
        due=None,
    )
    with pytest.raises(IntegrityError):
        tasks.create_task(session=session, user=ada, data=broken)
    session.rollback()
    assert add(session, ada, "two").number == 2


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "Invalid title: the title must not be empty."),
        ("   \t ", "Invalid title: the title must not be empty."),
        ("x" * 501, "Invalid title: the title is 501 characters long; at most 500 fit."),
    ],
)
def test_bad_titles_are_refused(title: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validated(TaskCreate, title=title)
    assert (caught.value.message, caught.value.exit_code) == (message, 2)


def test_titles_are_stripped_and_500_characters_fit() -> None:
    assert validated(TaskCreate, title="  Buy milk \n").title == "Buy milk"
    assert len(validated(TaskCreate, title="y" * 500).title) == 500


def test_descriptions_up_to_10000_characters() -> None:
    kept = validated(TaskCreate, title="t", description="d" * 10_000).description
    assert kept == "d" * 10_000
    with pytest.raises(InvalidInput, match=r"description is 10001 characters long"):
        validated(TaskCreate, title="t", description="d" * 10_001)


@pytest.mark.parametrize(
    "email",
    ["", "ada", "ada@", "@example.com", "a b@example.com", "ada@-example.com", "ada@example..com"],
)
def test_bad_emails_are_refused(email: str) -> None:
    with pytest.raises(InvalidInput, match="is not a valid email address") as caught:
        validated(UserCreate, email=email)
    assert caught.value.exit_code == 2


# ------------------------------------------------------------------------------ references


def test_a_task_is_found_by_number_uuid_and_prefix(session: Session, ada: User) -> None:
    task = add(session, ada, "Buy milk")
    for ref in ["1", "#1", " 1 ", str(task.id), task.id.hex, str(task.id)[:13].upper()]:
        assert tasks.require_task(session=session, user=ada, ref=ref).id == task.id, ref


def test_digits_are_always_a_number_never_a_uuid_prefix(session: Session, ada: User) -> None:
    by_prefix = Task(
        id=uuid.UUID("12340000-0000-4000-8000-000000000000"),
        user_id=ada.id,
        number=7,
        title="starts with 1234",
    )
    session.add(by_prefix)
    session.commit()
    for ref in ("1234", "#1234"):
        with pytest.raises(TaskNotFound, match=rf"^No task {ref}\.$"):
            tasks.require_task(session=session, user=ada, ref=ref)
    for ref in ("7", "#7", "12340000-", "12340000-0000"):
        assert tasks.require_task(session=session, user=ada, ref=ref).id == by_prefix.id


@pytest.mark.parametrize("ref", ["²", "٣", "1" * 5000])
def test_only_ascii_digits_make_a_number(session: Session, ada: User, ref: str) -> None:
    with pytest.raises(InvalidReference):
        tasks.require_task(session=session, user=ada, ref=ref)


def test_an_ambiguous_prefix_lists_the_candidates(session: Session, ada: User) -> None:
    for number, suffix in ((1, "1"), (2, "2")):
        session.add(
            Task(
                id=uuid.UUID(f"abcd{suffix * 28}"),
                user_id=ada.id,
                number=number,
                title=f"task {number}",
            )
        )
    session.commit()
    with pytest.raises(AmbiguousReference) as caught:
        tasks.require_task(session=session, user=ada, ref="abcd")
    assert caught.value.exit_code == 2  # the user must say more: bad input
    assert caught.value.message == (
        "abcd matches several tasks: 1 (abcd1111) task 1, 2 (abcd2222) task 2."
    )
    assert tasks.require_task(session=session, user=ada, ref="abcd2").number == 2


def test_another_users_tasks_are_not_found(session: Session, ada: User, grace: User) -> None:
    theirs = add(session, grace, "Grace's secret")
    for ref in ["1", str(theirs.id), theirs.id.hex[:6]]:
        with pytest.raises(TaskNotFound, match=rf"^No task {ref}\.$"):
            tasks.require_task(session=session, user=ada, ref=ref)


@pytest.mark.parametrize("ref", ["abc", "xyz1", "milk", "12 ab", "", "1" * 40 + "a"])
def test_bad_references_are_invalid_input(session: Session, ada: User, ref: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        tasks.require_task(session=session, user=ada, ref=ref)
    assert caught.value.exit_code == 2


def test_unknown_number_is_not_found(session: Session, ada: User) -> None:
    with pytest.raises(TaskNotFound):
        tasks.require_task(session=session, user=ada, ref="99999999999")


# ------------------------------------------------------------------------------ changes


def test_done_reopen_delete_restore(session: Session, ada: User) -> None:
    add(session, ada, "one")
    add(session, ada, "two")
    done = tasks.complete_tasks(session=session, user=ada, refs=["1", "2", "1"])
    assert [(c.task.number, c.changed) for c in done] == [(1, True), (2, True)]
    assert done[0].task.completed_at is not None
    again = tasks.complete_tasks(session=session, user=ada, refs=["1"])
    assert [c.changed for c in again] == [False]
    reopened = tasks.reopen_tasks(session=session, user=ada, refs=["1"])
    assert (reopened[0].changed, reopened[0].task.completed_at) == (True, None)
    assert [c.changed for c in tasks.delete_tasks(session=session, user=ada, refs=["2"])] == [True]
    assert [c.changed for c in tasks.delete_tasks(session=session, user=ada, refs=["2"])] == [False]
    with pytest.raises(TaskInTrash, match=r"^Task 2 is in the trash: `sorted restore 2` first\.$"):
        tasks.reopen_tasks(session=session, user=ada, refs=["2"])
    assert [c.changed for c in tasks.restore_tasks(session=session, user=ada, refs=["2"])] == [True]
    assert listed(session, ada, view=View.all) == [1, 2]


def test_delete_asks_with_the_resolved_tasks_and_a_no_changes_nothing(
    session: Session, ada: User
) -> None:
    add(session, ada, "one")
    add(session, ada, "two")
    seen: list[list[int]] = []

    def decline(targets: list[Task]) -> bool:
        seen.append([task.number for task in targets])
        return False

    with pytest.raises(Cancelled, match=r"^Nothing changed\.$"):
        tasks.delete_tasks(session=session, user=ada, refs=["1", "#1", "2"], confirm=decline)
    session.rollback()
    assert seen == [[1, 2]]
    assert listed(session, ada) == [1, 2]


def test_one_bad_reference_changes_nothing(session: Session, ada: User) -> None:
    add(session, ada, "one")
    with pytest.raises(TaskNotFound):
        tasks.complete_tasks(session=session, user=ada, refs=["1", "7"])
    assert listed(session, ada) == [1]


def test_update_changes_only_given_fields_and_can_clear_the_due_date(
    session: Session, ada: User
) -> None:
    add(session, ada, "Buy milk", due=date(2026, 12, 1), priority=Priority.low)
    before = tasks.require_task(session=session, user=ada, ref="1").updated_at
    task = tasks.update_task(
        session=session, user=ada, ref="1", data=validated(TaskUpdate, title=" Buy oat milk ")
    )
    assert (task.title, task.due, task.priority) == (
        "Buy oat milk",
        date(2026, 12, 1),
        Priority.low,
    )
    assert task.updated_at > before
    task = tasks.update_task(
        session=session,
        user=ada,
        ref="1",
        data=validated(TaskUpdate, due=None, priority=Priority.none),
    )
    assert (task.due, task.priority) == (None, Priority.none)
    with pytest.raises(InvalidInput, match=r"^Nothing to change"):
        tasks.update_task(session=session, user=ada, ref="1", data=validated(TaskUpdate))


def test_timestamps_are_stored_and_read_as_utc_whatever_the_local_zones(
    database_url: str, backend: str, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kathmandu")  # UTC+05:45: no rounding hides a mistake
    time.tzset()
    url = database_url
    if is_postgres_backend(backend):  # and a server session in yet another zone
        # libpq sends PGTZ in the startup packet, which PgBouncer passes on (`options` it refuses)
        monkeypatch.setenv("PGTZ", "America/St_Johns")
    try:
        first = Database(load_settings(database_url=url)).session
        created = add(first, ada, "t").created_at
        Database.of(first).close()
        second = Database(load_settings(database_url=url)).session
        task = tasks.require_task(session=second, user=ada, ref="1")
        if is_postgres_backend(backend):
            assert second.execute(text("SHOW TimeZone")).scalar_one() == "America/St_Johns"
        raw = second.execute(
            text("SELECT created_at AT TIME ZONE 'UTC' FROM tasks")
            if is_postgres_backend(backend)
            else text("SELECT created_at FROM tasks")
        ).scalar_one()
        Database.of(second).close()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert task.created_at.tzinfo is UTC
    assert task.created_at == created
    assert abs(task.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    stored = raw if isinstance(raw, datetime) else datetime.fromisoformat(raw)
    assert stored == created.replace(tzinfo=None)  # the stored wall clock is UTC


# ------------------------------------------------------------------------------ listing


def test_views_select_open_all_completed_and_trash(session: Session, ada: User) -> None:
    for title in ("open", "done", "trashed", "done and trashed"):
        add(session, ada, title)
    tasks.complete_tasks(session=session, user=ada, refs=["2", "4"])
    tasks.delete_tasks(session=session, user=ada, refs=["3", "4"])
    assert listed(session, ada) == [1]
    assert listed(session, ada, view=View.all) == [1, 2]
    assert listed(session, ada, view=View.completed) == [2]
    assert listed(session, ada, view=View.deleted) == [3, 4]


def test_search_is_case_insensitive_over_title_and_description_and_literal(
    session: Session, ada: User
) -> None:
    add(session, ada, "Buy MILK")
    add(session, ada, "Call mum", description="ask about the milkman")
    add(session, ada, "100% done_ish")
    add(session, ada, "1000 dones")
    assert listed(session, ada, search="milk") == [1, 2]
    assert listed(session, ada, search="0% d") == [3]
    assert listed(session, ada, search="_") == [3]


def test_sort_orders(session: Session, ada: User) -> None:
    add(session, ada, "no due, no priority")
    add(session, ada, "later", due=date(2027, 1, 2), priority=Priority.low)
    add(session, ada, "sooner", due=date(2026, 12, 1), priority=Priority.high)
    add(session, ada, "medium", priority=Priority.medium)
    assert listed(session, ada, sort=SortKey.due) == [3, 2, 1, 4]
    assert listed(session, ada, sort=SortKey.priority) == [3, 4, 2, 1]
    assert listed(session, ada, sort=SortKey.created) == [4, 3, 2, 1]
    assert listed(session, ada, sort=SortKey.number) == [1, 2, 3, 4]


def test_limit_says_how_many_more(session: Session, ada: User) -> None:
    for i in range(5):
        add(session, ada, f"t{i}")
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=2))
    assert (numbers(page), page.more) == ([1, 2], 3)
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=5))
    assert (numbers(page), page.more) == ([1, 2, 3, 4, 5], 0)
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=None))
    assert (len(page.tasks), page.more) == (5, 0)


def test_the_count_of_more_stops_where_counting_every_match_would_cost(
    session: Session, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_plain_tasks(session, ada, 1, 30)
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=10))
    assert (page.more, page.more_text) == (20, "20")
    monkeypatch.setattr(tasks, "MORE_COUNTED", 20)
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=10))
    assert (page.more, page.more_text) == (20, "20")  # exactly as many as it counts
    monkeypatch.setattr(tasks, "MORE_COUNTED", 19)
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=10))
    assert (page.more, page.more_text) == (19, "19+")  # 19 counted, and there are more
    page = tasks.list_tasks(session=session, user=ada, query=TaskQuery(limit=15))
    assert (page.more, page.more_text) == (15, "15")


# ------------------------------------------------------------------------------ users


def test_emails_are_unique_case_insensitively(session: Session, ada: User) -> None:
    with pytest.raises(DuplicateUser, match=r"ada@example\.com already exists") as caught:
        users.create_user(session=session, data=validated(UserCreate, email=" ADA@Example.COM "))
    assert caught.value.exit_code == 2
    assert users.get_user_by_email(session=session, email="Ada@EXAMPLE.com") == ada


def test_a_deleted_user_is_hidden_and_comes_back_when_added_again(
    session: Session, ada: User
) -> None:
    add(session, ada, "kept")
    users.delete_user(session=session, user=ada)
    assert users.get_user_by_email(session=session, email=ada.email) is None
    assert users.list_users(session=session) == []
    back, restored = users.create_user(session=session, data=validated(UserCreate, email=ada.email))
    assert (back.id, back.is_deleted, back.name, restored) == (ada.id, False, "Ada", True)
    assert listed(session, back) == [1]


def test_lookups_of_invalid_emails_find_nobody(session: Session, ada: User) -> None:
    assert users.get_user_by_email(session=session, email="not an email") is None


def test_task_counts(session: Session, ada: User) -> None:
    for title in ("a", "b", "c"):
        add(session, ada, title)
    tasks.complete_tasks(session=session, user=ada, refs=["1"])
    tasks.delete_tasks(session=session, user=ada, refs=["2"])
    assert users.task_counts(session=session, user=ada) == (1, 1)


def test_the_local_user_is_made_only_while_there_is_nobody(session: Session) -> None:
    local, created = users.create_local_user(session=session)
    assert created
    assert local.email.endswith("@localhost")
    assert local.name == local.email.removesuffix("@localhost")
    assert users.create_local_user(session=session) == (local, False)  # reused, not duplicated
    users.delete_user(session=session, user=local)
    back, _ = users.create_local_user(session=session)  # a deleted local user comes back
    assert (back.id, back.is_deleted) == (local.id, False)
    users.create_user(session=session, data=validated(UserCreate, email="bob@example.com"))
    users.delete_user(session=session, user=local)
    with pytest.raises(NoCurrentUser, match="pass --user EMAIL"):
        users.create_local_user(session=session)
