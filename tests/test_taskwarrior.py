"""Converting tasks of Taskwarrior's `task export` (tests/data/taskwarrior.json, written by hand
in the shape Taskwarrior 2.6 writes) into sorted tasks."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from sorted_cli.choices import Priority
from sorted_cli.interchange import read_records
from sorted_cli.models import NOTE_MAX, TITLE_MAX, NoteRecord, TaskRecord
from sorted_cli.taskwarrior import TaskwarriorSeries, record_from_taskwarrior

FIXTURE = Path(__file__).parent / "data" / "taskwarrior.json"
ITEMS: list[dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))
BY_TITLE = {item["description"] + (" (template)" if "mask" in item else ""): item for item in ITEMS}
UUID = "6e0b5a1c-2f3d-4e4f-8a9b-0c1d2e3f4a5b"
ENTRY = datetime(2026, 3, 1, 10, 12, 33, tzinfo=UTC)
MODIFIED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
END = datetime(2026, 3, 4, 17, 30, tzinfo=UTC)


def task(**fields: Any) -> dict[str, Any]:
    """A minimal exported task; a field given as `...` is left out."""
    item = {
        "uuid": UUID,
        "description": "Water the plants",
        "entry": "20260301T101233Z",
        "status": "pending",
        **fields,
    }
    return {name: value for name, value in item.items() if value is not ...}


def convert(item: Any, ignored: Counter[str] | None = None) -> TaskRecord:
    return record_from_taskwarrior(item, ignored=Counter() if ignored is None else ignored)


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Sets the process's local time zone for one test, and restores it afterwards."""

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


# --------------------------------------------------------------------------- the fixture


@pytest.mark.parametrize("item", ITEMS, ids=list(BY_TITLE))
def test_every_exported_task_keeps_its_uuid_title_and_entry(item: dict[str, Any]) -> None:
    record = convert(item)
    assert record.id == uuid.UUID(item["uuid"])
    assert record.title == item["description"]
    assert record.created_at == utc(item["entry"])
    assert record.updated_at == utc(item["modified"])


def test_fixture_converts_to_the_expected_tasks(local_zone: Callable[[str], None]) -> None:
    local_zone("Europe/Berlin")  # where the export was made: due dates are its local midnights
    ignored: Counter[str] = Counter()
    records = [record_from_taskwarrior(item, ignored=ignored) for item in ITEMS]
    got = [(r.number, r.priority, r.due, r.completed, r.deleted, r.tags) for r in records]
    high, medium, low, none = Priority.high, Priority.medium, Priority.low, Priority.none
    assert got == [
        (1, high, date(2026, 3, 14), False, False, ["garden", "project:home.garden", "weekend"]),
        (2, medium, None, False, False, ["email", "project:work"]),
        (3, low, date(2026, 3, 12), False, False, ["next", "paperwork", "project:work"]),
        (4, medium, date(2026, 5, 1), False, False, ["project:admin"]),
        (5, none, date(2026, 3, 10), False, False, ["chores", "project:home"]),
        (6, none, date(2026, 3, 10), False, False, ["chores", "project:home"]),
        (7, none, None, False, False, []),
        (None, high, None, True, False, ["health"]),  # finished tasks have id 0
        (None, none, None, False, True, ["project:hobbies"]),
    ]
    # Every due is a local midnight (a whole day); the waiting task keeps its wait.
    assert [
        (r.number, r.wait, r.scheduled, r.due_at) for r in records if r.wait or r.scheduled
    ] == [
        (1, None, utc("20260306T230000Z"), None),
        (4, utc("20260331T220000Z"), None, None),
    ]
    assert all(r.due_at is None for r in records)
    assert ignored == Counter(
        {
            "depends": 1,
            "estimate": 1,  # a user-defined attribute
            "start": 1,
        }
    )


def test_fixture_annotations_recurrence_and_finish_times(local_zone: Callable[[str], None]) -> None:
    local_zone("Europe/Berlin")
    garden = convert(BY_TITLE["Prune the apple trees before the buds open"])
    assert garden.description is None
    assert garden.notes == [
        NoteRecord(
            at=datetime(2026, 3, 2, 8, 15, tzinfo=UTC),
            text="Ask Jonas whether we can borrow his long-reach pruner",
        ),
        NoteRecord(
            at=datetime(2026, 3, 3, 19, 2, tzinfo=UTC),
            text="Cut back to outward-facing buds, no more than a third",
        ),
    ]
    template = convert(BY_TITLE["Put the bins out (template)"])
    instance = convert(BY_TITLE["Put the bins out"])
    assert [
        (record.description, record.every, record.until, record.series_id, record.iteration)
        for record in (template, instance)
    ] == [
        (None, "week", date(2026, 12, 31), template.id, 2),  # mask "-": one instance made
        (None, "week", None, template.id, 1),  # until: its template's, once read with it
    ]
    dentist = convert(BY_TITLE["Book the dentist appointment"])
    assert (dentist.completed_at, dentist.deleted_at) == (
        datetime(2026, 3, 5, 10, 15, 44, tzinfo=UTC),
        None,
    )
    banjo = convert(BY_TITLE["Learn the banjo"])
    assert (banjo.completed, banjo.completed_at) == (False, None)
    assert banjo.deleted_at == datetime(2026, 2, 21, 18, 30, tzinfo=UTC)


# ---------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("status", ["pending", "waiting", ...])
def test_pending_waiting_and_missing_status_are_open(status: Any) -> None:
    record = convert(task(status=status, wait="20260401T000000Z", modified="20260302T080000Z"))
    assert (record.completed, record.completed_at, record.deleted, record.deleted_at) == (
        False,
        None,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "finished_at"),
    [
        ({"end": "20260304T173000Z", "modified": "20260302T080000Z"}, END),
        ({"modified": "20260302T080000Z"}, MODIFIED),
        ({}, ENTRY),
    ],
    ids=["end", "modified", "entry"],
)
@pytest.mark.parametrize("status", ["completed", "deleted"])
def test_completed_and_deleted_tasks_end_at_end_else_modified_else_entry(
    status: str, fields: dict[str, str], finished_at: datetime
) -> None:
    record = convert(task(status=status, **fields))
    assert (record.completed, record.deleted) == (status == "completed", status == "deleted")
    assert record.completed_at == (finished_at if status == "completed" else None)
    assert record.deleted_at == (finished_at if status == "deleted" else None)


def test_a_recurrence_template_is_the_open_task_of_its_series() -> None:
    record = convert(task(status="recurring", recur="2wks", due="20260310T120000Z", mask="+-"))
    assert (record.completed, record.deleted, record.tags, record.description) == (
        False,
        False,
        [],
        None,
    )
    assert (record.every, record.series_id, record.iteration) == ("2 weeks", record.id, 3)


def test_an_instance_is_an_occurrence_of_its_templates_series() -> None:
    parent = "d4e5f6a7-b8c9-4dae-9f01-23456789abcd"
    record = convert(task(recur="P1M", parent=parent, imask=4, rtype="periodic"))
    assert (record.every, record.series_id, record.iteration) == ("month", uuid.UUID(parent), 5)
    chained = convert(task(recur="3days", parent=parent, imask="0", rtype="chained"))
    assert (chained.every, chained.iteration) == ("3 days after done", 1)
    with pytest.raises(ValueError, match=r"^imask must be the number of the instance, not 'x'$"):
        convert(task(recur="weekly", parent=parent, imask="x"))


def test_a_period_sorted_cannot_read_is_kept_in_words() -> None:
    ignored: Counter[str] = Counter()
    template = convert(task(status="recurring", recur="1 lunar month", until="20261231T120000Z"))
    assert (template.every, template.tags) == (None, ["recurring"])
    assert template.description == "Recurs: 1 lunar month until 2026-12-31"
    instance = convert(task(recur="1 lunar month", parent=UUID, imask=0), ignored)
    assert (instance.every, instance.series_id) == (None, None)
    assert ignored == Counter({"recur": 1, "parent": 1, "imask": 1})


def test_a_recurrence_template_without_a_period_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^recur is missing$"):
        convert(task(status="recurring", due="20260310T120000Z"))
    with pytest.raises(ValueError, match=r"^recur must be a Taskwarrior period, not ' '$"):
        convert(task(status="recurring", recur=" ", due="20260310T120000Z"))


@pytest.mark.parametrize(
    ("status", "shown"), [("done", "'done'"), ("Pending", "'Pending'"), (3, "a number")]
)
def test_an_unknown_status_is_refused(status: object, shown: str) -> None:
    names = "pending, waiting, completed, deleted or recurring"
    with pytest.raises(ValueError, match=rf"^status must be {names}, not {shown}$"):
        convert(task(status=status))


# ------------------------------------------------------------------ required fields, ids


@pytest.mark.parametrize("field", ["uuid", "description", "entry"])
def test_a_task_without_uuid_description_or_entry_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} is missing$"):
        convert(task(**{field: ...}))


def test_a_malformed_uuid_or_a_non_object_is_refused() -> None:
    with pytest.raises(ValueError, match="id"):
        convert(task(uuid="not-a-uuid"))
    with pytest.raises(ValueError, match=r"^expected a task object, not a list$"):
        convert(["uuid", UUID])


@pytest.mark.parametrize(("value", "number"), [(3, 3), (0, None), (..., None), (True, None)])
def test_a_positive_id_is_the_number(value: object, number: int | None) -> None:
    assert convert(task(id=value)).number == number


def test_modified_is_updated_at_else_entry() -> None:
    assert convert(task(modified="20260302T080000Z")).updated_at == MODIFIED
    assert convert(task()).updated_at == ENTRY


# ---------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "text", ["20260304T173000Z", "2026-03-04T17:30:00Z", "2026-03-04T19:30:00+02:00"]
)
def test_taskwarrior_and_iso_dates_with_a_zone_are_read_as_utc(text: str) -> None:
    record = convert(task(entry=text, status="completed", end=text))
    assert record.created_at == END
    assert record.created_at.tzinfo is UTC
    assert record.completed_at == END


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2026-13-01", "'2026-13-01'"),
        ("2026-03-04T17:30:00", "'2026-03-04T17:30:00'"),
        ("tomorrow", "'tomorrow'"),
        (1772645400, "a number"),
    ],
)
def test_a_date_that_is_not_a_taskwarrior_date_is_refused(text: object, shown: str) -> None:
    message = f"due must be a Taskwarrior date (YYYYMMDDTHHMMSSZ), not {shown}"
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        convert(task(due=text))


@pytest.mark.parametrize(
    ("zone", "due"),
    [
        ("Europe/Berlin", date(2026, 3, 14)),
        ("UTC", date(2026, 3, 13)),
        ("America/Los_Angeles", date(2026, 3, 13)),
    ],
)
def test_due_is_the_local_calendar_date_of_its_moment(
    local_zone: Callable[[str], None], zone: str, due: date
) -> None:
    local_zone(zone)
    assert convert(task(due="20260313T230000Z")).due == due  # `due:2026-03-14` made in Berlin


@pytest.mark.parametrize(
    ("zone", "due", "due_at"),
    [
        ("Europe/Berlin", date(2026, 3, 14), None),  # `due:2026-03-14` made in Berlin
        ("UTC", date(2026, 3, 13), utc("20260313T230000Z")),  # 23:00 there: a time
        ("America/Los_Angeles", date(2026, 3, 13), utc("20260313T230000Z")),
    ],
)
def test_a_due_that_is_not_local_midnight_keeps_its_moment(
    local_zone: Callable[[str], None], zone: str, due: date, due_at: datetime | None
) -> None:
    local_zone(zone)
    record = convert(task(due="20260313T230000Z"))
    assert (record.due, record.due_at) == (due, due_at)


def test_wait_and_scheduled_are_kept_as_moments() -> None:
    ignored: Counter[str] = Counter()
    record = convert(
        task(status="waiting", wait="20260401T063000Z", scheduled="2026-03-20T09:00:00+01:00"),
        ignored,
    )
    assert (record.wait, record.scheduled) == (
        datetime(2026, 4, 1, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 20, 8, 0, tzinfo=UTC),
    )
    assert ignored == Counter()
    with pytest.raises(ValueError, match=r"^wait must be a Taskwarrior date"):
        convert(task(wait="soon"))


# ------------------------------------------------------------------------------ priority


@pytest.mark.parametrize(
    ("value", "priority"),
    [
        ("H", Priority.high),
        ("M", Priority.medium),
        ("L", Priority.low),
        ("h", Priority.high),
        ("", Priority.none),
        (..., Priority.none),
    ],
)
def test_priority_letters_map_to_sorted_priorities(value: object, priority: Priority) -> None:
    assert convert(task(priority=value)).priority == priority


@pytest.mark.parametrize(("value", "shown"), [("X", "'X'"), ("high", "'high'"), (1, "a number")])
def test_an_unknown_priority_is_refused(value: object, shown: str) -> None:
    with pytest.raises(ValueError, match=rf"^priority must be H, M or L, not {shown}$"):
        convert(task(priority=value))


# ---------------------------------------------------------------------- tags, projects


def test_tags_are_normalised_and_characters_a_tag_cannot_hold_become_dashes() -> None:
    record = convert(task(tags=["Errands", "home&garden", "c++", "Next Action", "errands"]))
    assert record.tags == ["c--", "errands", "home-garden", "next-action"]


def test_tags_in_any_script_keep_their_marks() -> None:
    record = convert(task(tags=["हिंदी", "தமிழ்", "İstanbul", "naïve\u0300!"]))
    assert record.tags == ["i\u0307stanbul", "naïv\u00e8-", "हिंदी", "தமிழ்"]


def test_context_tags_keep_their_at_sign() -> None:
    assert convert(task(tags=["@Home", "@phone"])).tags == ["@home", "@phone"]


def test_tags_may_be_a_comma_separated_string() -> None:
    assert convert(task(tags="work, email,,urgent")).tags == ["email", "urgent", "work"]


def test_a_tag_sorted_cannot_hold_is_dropped_and_reported() -> None:
    ignored: Counter[str] = Counter()
    record = convert(task(tags=["home", "@", "🔥", "x" * 65], project="p" * 70), ignored)
    assert record.tags == ["home"]
    assert ignored == Counter(
        {"tag '@'": 1, "tag '🔥'": 1, f"tag '{'x' * 65}'": 1, f"tag 'project:{'p' * 70}'": 1}
    )


def test_tags_that_are_not_a_list_of_text_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^tags must be a list of tags, not an object$"):
        convert(task(tags={"a": 1}))


@pytest.mark.parametrize(
    ("project", "tags"),
    [
        ("Home.Garden", ["project:home.garden"]),
        ("Personal Taxes", ["project:personal-taxes"]),
        ("R&D", ["project:r-d"]),
        ("", []),
    ],
)
def test_the_project_is_a_project_tag(project: str, tags: list[str]) -> None:
    assert convert(task(project=project)).tags == tags


def test_a_project_that_is_not_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^project must be text, not a list$"):
        convert(task(project=["a"]))


# ------------------------------------------------------------------ title, description


def test_a_description_that_fits_is_the_title_alone() -> None:
    text = "word " * (TITLE_MAX // 5 - 1) + "last"
    record = convert(task(description=f"  {text}  "))
    assert len(record.title) <= TITLE_MAX
    assert (record.title, record.description) == (text, None)


def test_a_long_description_is_cut_at_a_word_and_kept_whole_in_the_description() -> None:
    text = "Sort out " + "paperwork " * 60 + "before the end of the quarter"
    record = convert(task(description=text))
    assert len(record.title) <= TITLE_MAX
    assert record.title.endswith("paperwork…")
    assert text.startswith(record.title.removesuffix("…") + " ")
    assert record.description == text


def test_a_word_ending_just_before_the_ellipsis_is_kept_whole() -> None:
    text = "a" * (TITLE_MAX - 1) + " b"
    assert convert(task(description=text)).title == "a" * (TITLE_MAX - 1) + "…"


def test_a_long_description_without_spaces_is_cut_where_the_title_ends() -> None:
    text = "x" * (TITLE_MAX + 10)
    record = convert(task(description=text))
    assert record.title == "x" * (TITLE_MAX - 1) + "…"
    assert record.description == text


def test_a_description_that_is_not_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^description must be text, not a number$"):
        convert(task(description=42))


def test_annotations_are_notes_in_time_order_with_their_own_moments() -> None:
    record = convert(
        task(
            annotations=[
                {"entry": "20260305T090000Z", "description": "second"},
                {"entry": "20260302T174500Z", "description": " first "},
                {"entry": "20260303T000000Z", "description": "  "},  # nothing to keep
            ],
        )
    )
    assert [(note.at, note.text) for note in record.notes] == [
        (datetime(2026, 3, 2, 17, 45, tzinfo=UTC), "first"),
        (datetime(2026, 3, 5, 9, tzinfo=UTC), "second"),
    ]
    assert convert(task()).notes == []


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ("note", "annotations must be a list of objects, not 'note'"),
        ([{"entry": "20260302T174500Z"}], "annotations: description must be text, not null"),
        ([{"description": "x"}], "annotations: entry must be a Taskwarrior date"),
    ],
)
def test_a_malformed_annotation_is_refused(annotations: object, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message):
        convert(task(annotations=annotations))


def test_an_annotation_longer_than_a_note_is_refused() -> None:
    note = {"entry": "20260302T174500Z", "description": "n" * NOTE_MAX}
    assert convert(task(annotations=[note])).notes[0].text == note["description"]
    note["description"] += "n"
    with pytest.raises(ValueError, match="the note is 10001 characters long; at most 10000 fit"):
        convert(task(annotations=[note]))


# ------------------------------------------------------------------------ ignored fields


def test_ignored_counts_each_dropped_field_once_per_task() -> None:
    ignored: Counter[str] = Counter()
    convert(task(id=4, urgency=3.5, start="20260401T000000Z", depends=[UUID]), ignored)
    convert(
        task(depends=f"{UUID},{UUID}", until="20261231T120000Z", end="20260304T173000Z"), ignored
    )
    convert(task(status="recurring", recur="weekly", until="20261231T120000Z"), ignored)
    assert ignored == Counter({"depends": 2, "start": 1, "end": 1})


def test_a_task_that_cannot_be_imported_adds_nothing_to_ignored() -> None:
    ignored: Counter[str] = Counter()
    with pytest.raises(ValueError, match="priority"):
        convert(task(priority="X", wait="20260401T000000Z"), ignored)
    assert ignored == Counter()


# ------------------------------------------------------------- a series, as a file is read


def _read(*items: dict[str, Any]) -> tuple[list[tuple[int, TaskRecord]], Counter[str]]:
    ignored: Counter[str] = Counter()
    text = "\n".join(json.dumps(item) for item in items).encode()
    return list(
        read_records(io.BytesIO(text), name="f", taskwarrior=True, ignored=ignored)
    ), ignored


TEMPLATE = "d4e5f6a7-b8c9-4dae-9f01-23456789abcd"


def _template(mask: str) -> dict[str, Any]:
    return task(uuid=TEMPLATE, status="recurring", recur="weekly", mask=mask,
                due="20260309T230000Z", until="20261231T120000Z")  # fmt: skip


def _instance(number: int, status: str = "pending") -> dict[str, Any]:
    return task(uuid=str(uuid.UUID(int=number)), status=status, recur="weekly",
                parent=TEMPLATE, imask=number)  # fmt: skip


def test_a_template_with_an_open_instance_is_folded_into_it_whichever_comes_first() -> None:
    """A finished instance read before its template comes in as it is (it makes no next one);
    the open one is held for the template's end of the series."""
    end = date(2026, 12, 31)
    for items, finished_until in (
        ((_template("+-"), _instance(0, "completed"), _instance(1)), end),
        ((_instance(0, "completed"), _instance(1), _template("+-")), None),
    ):
        read, ignored = _read(*items)
        assert [
            (record.id, record.series_id, record.iteration, record.until, record.completed)
            for _line, record in read
        ] == [
            (uuid.UUID(int=0), uuid.UUID(TEMPLATE), 1, finished_until, True),
            (uuid.UUID(int=1), uuid.UUID(TEMPLATE), 2, end, False),
        ]
        assert ignored == Counter({TaskwarriorSeries.FOLDED: 1})
        assert sorted(line for line, _record in read) == [line for line, _ in read]


def test_only_open_instances_wait_for_their_template_each_for_its_own() -> None:
    """What is held is an open instance whose template has not come yet, under its own
    series: a template lets out its own instances, no others."""
    series = TaskwarriorSeries(Counter())
    other = "0f1e2d3c-4b5a-4978-8877-665544332211"
    finished = record_from_taskwarrior(_instance(0, "completed"), ignored=Counter())
    open_one = record_from_taskwarrior(_instance(1), ignored=Counter())
    elsewhere = record_from_taskwarrior({**_instance(7), "parent": other}, ignored=Counter())
    assert series.take(1, finished, template=False) == [(1, finished)]
    assert series.take(2, open_one, template=False) == []
    assert series.take(3, elsewhere, template=False) == []
    template = record_from_taskwarrior(_template("+-"), ignored=Counter())
    assert [(line, record.id) for line, record in series.take(4, template, template=True)] == [
        (2, uuid.UUID(int=1))
    ]
    assert [(line, record.id) for line, record in series.rest()] == [(3, uuid.UUID(int=7))]


def _monthly(**fields: Any) -> dict[str, Any]:
    item = {**_template(""), "recur": "monthly", "due": "20270131T120000Z", **fields}
    del item["until"]
    return item


def test_a_template_that_comes_in_as_the_open_task_is_due_after_the_instances_made() -> None:
    """Two instances were made of it (mask `++`) and are done: it is the third, due two
    months after its own due, counting from the 31st (its anchor)."""
    [(_, first)] = _read(_monthly(mask=""))[0]
    [(_, third)] = _read(_monthly(mask="++"))[0]
    assert (first.due, first.iteration) == (date(2027, 1, 31), 1)
    assert (third.due, third.anchor, third.iteration) == (date(2027, 3, 31), date(2027, 1, 31), 3)
    assert first.due_at is not None  # noon: a due with a time
    assert third.due_at is not None
    assert third.due_at.astimezone().time() == first.due_at.astimezone().time()
    assert third.due_at.astimezone().date() == date(2027, 3, 31)


def test_a_monthly_instance_counts_from_its_template_due() -> None:
    """Instance 2 of a series due on the 31st is due on 28 February; its anchor is the 31st,
    so the one after it is due on 31 March again."""
    instance = {**_instance(1), "recur": "monthly", "due": "20270228T120000Z"}
    for items in ((_monthly(mask="+-"), instance), (instance, _monthly(mask="+-"))):
        [(_, record)] = _read(*items)[0]
        assert (record.due, record.anchor) == (date(2027, 2, 28), date(2027, 1, 31))
    weekly, _ = _read(_template("+-"), _instance(1))
    assert weekly[0][1].anchor is None  # a weekly rule counts from no anchor


def test_a_template_with_no_open_instance_is_the_open_task_of_its_series() -> None:
    read, ignored = _read(_template("++"), _instance(0, "completed"), _instance(1, "deleted"))
    read.sort(key=lambda item: item[0])  # the template comes at the end of the file
    assert [(line, record.id, record.iteration, record.completed) for line, record in read] == [
        (1, uuid.UUID(TEMPLATE), 3, False),
        (2, uuid.UUID(int=0), 1, True),
        (3, uuid.UUID(int=1), 2, False),
    ]
    assert read[0][1].every == "week"
    assert ignored == Counter()
