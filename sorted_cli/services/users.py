"""Users: who owns tasks. Every function works over the caller's session and commits its own
change, so one command is one transaction."""

from __future__ import annotations

import getpass
import re

from sqlalchemy import false, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sorted_cli.errors import DuplicateUser, NoCurrentUser, UserNotFound
from sorted_cli.models import Task, User, UserCreate, normalise_email, utcnow, validated

_NOT_LOGIN_CHARACTERS = re.compile(r"[^a-z0-9._+-]+")


def create_user(*, session: Session, data: UserCreate) -> tuple[User, bool]:
    """Add a user; adding the email of a deleted user brings that user back.

    Returns the user and whether it was a deleted one restored (with its old tasks).
    """
    duplicate = DuplicateUser(f"A user with email {data.email} already exists.")
    existing = session.exec(select(User).where(User.email == data.email)).first()
    if existing is not None and not existing.is_deleted:
        raise duplicate
    user = existing or User(email=data.email)
    user.name = data.name if data.name is not None else user.name
    user.is_deleted, user.deleted_at, user.updated_at = False, None, utcnow()
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # another process added the same email a moment ago
        session.rollback()
        raise duplicate from None
    return user, existing is not None


def get_user_by_email(*, session: Session, email: str) -> User | None:
    """The active user with this email (compared case-insensitively), or None."""
    try:
        email = normalise_email(email)
    except ValueError:
        return None
    statement = select(User).where(User.email == email, col(User.is_deleted) == false())
    return session.exec(statement).first()


def require_user_by_email(*, session: Session, email: str) -> User:
    """The active user with this email, or UserNotFound."""
    user = get_user_by_email(session=session, email=email)
    if user is None:
        raise UserNotFound(f"No user {email.strip()}: add one with `sorted user add EMAIL`.")
    return user


def list_users(*, session: Session) -> list[User]:
    statement = select(User).where(col(User.is_deleted) == false()).order_by(col(User.email))
    return list(session.exec(statement))


def delete_user(*, session: Session, user: User) -> User:
    """Soft-delete a user: the row and their tasks stay, hidden."""
    user.is_deleted, user.deleted_at = True, utcnow()
    user.updated_at = user.deleted_at
    session.add(user)
    session.commit()
    return user


def task_counts(*, session: Session, user: User) -> tuple[int, int]:
    """How many open and completed tasks (outside the trash) the user has."""
    statement = (
        select(Task.completed, func.count())
        .where(Task.user_id == user.id, col(Task.is_deleted) == false())
        .group_by(col(Task.completed))
    )
    counts = dict(session.exec(statement).all())
    return counts.get(False, 0), counts.get(True, 0)


def create_local_user(*, session: Session) -> tuple[User, bool]:
    """The zero-set-up user of a local database, named after the OS login (see
    `find_local_user`), made now if need be. Returns the user and whether it was made now."""
    if (existing := find_local_user(session=session)) is not None:
        return existing, False
    data = validated(UserCreate, email=local_email(), name=_os_login())
    try:
        user, _ = create_user(session=session, data=data)
    except DuplicateUser:  # another first command made the local user after our read
        if (made := get_user_by_email(session=session, email=data.email)) is None:
            raise
        return made, False
    return user, True


def find_local_user(*, session: Session) -> User | None:
    """The local user of a local database, or None when none is there but one may be made.

    One may be made only while the database has no other user: once someone else exists,
    identity is chosen, not guessed (NoCurrentUser). An existing local user of the same login
    is reused (another sorted process made it a moment ago, or the config file that remembered
    it was lost).
    """
    if (existing := get_user_by_email(session=session, email=local_email())) is not None:
        return existing
    someone = select(User.id).where(col(User.is_deleted) == false()).limit(1)
    if session.exec(someone).first() is not None:
        raise NoCurrentUser(
            "No current user: pass --user EMAIL, set SORTED_USER, "
            "or run `sorted user switch EMAIL` (see `sorted user list`)."
        )
    return None


def local_email() -> str:
    """The local user's email: the OS login at localhost."""
    return f"{_os_login()}@localhost"


def resolve_current_user(*, session: Session, email: str | None, shared: bool) -> tuple[User, bool]:
    """The user a command acts for, and whether they were just created.

    Given an email (--user, SORTED_USER, or remembered), that user. Otherwise identity is never
    guessed on a shared database; a local one gets its zero-set-up local user.
    """
    if email is not None:
        return require_user_by_email(session=session, email=email), False
    if shared:
        raise NoCurrentUser(
            "No current user on this shared database: pass --user EMAIL, set SORTED_USER, "
            "or run `sorted user switch EMAIL`."
        )
    return create_local_user(session=session)


def _os_login() -> str:
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        login = ""
    return _NOT_LOGIN_CHARACTERS.sub("-", login.lower()).strip("-.") or "me"
