"""Users and their personal tenants; passwords stored only as a salted KDF hash."""

from sqlalchemy import select

from server.accounts import authenticate, create_user, workspaces_of
from server.errors import DomainError
from server.extensions import db
from server.models import Membership, Tenant, User, Workspace
from server.passwords import check_password, hash_password


def test_create_user_makes_personal_tenant_and_default_workspace(app):
    with app.app_context():
        user = create_user("Alice@Example.com", "s3cret-password", "Alice")
        db.session.commit()
        assert user.email == "alice@example.com"
        assert "s3cret-password" not in user.password_hash
        assert user.password_hash.startswith("scrypt:")
        tenant = db.session.scalars(select(Tenant)).one()
        assert tenant.edition == "personal"
        membership = db.session.scalars(select(Membership)).one()
        assert (membership.user_id, membership.role) == (user.id, "super_admin")
        workspace = db.session.scalars(select(Workspace)).one()
        assert workspace.is_default and workspace.tenant_id == tenant.id
        assert [w.id for _, w, _ in workspaces_of(user.id)] == [workspace.id]


def test_passwords_are_hashed_with_scrypt_at_full_strength():
    # The suite's accounts get cheaper parameters (tests/conftest.py); the server's are these.
    stored = hash_password("s3cret-password")
    assert stored.startswith("scrypt:32768:8:1$")
    assert check_password(stored, "s3cret-password")
    assert not check_password(stored, "s3cret-passworD")
    assert not check_password(None, "s3cret-password")


def test_authenticate_checks_password_and_hides_unknown_accounts(app, make_user):
    user = make_user("bob@example.com", "bob-password-1")
    with app.app_context():
        assert authenticate("BOB@example.com", "bob-password-1").id == user.id
        assert authenticate("bob@example.com", "wrong-password") is None
        assert authenticate("nobody@example.com", "bob-password-1") is None


def test_duplicate_email_and_weak_password_are_refused(app, make_user):
    make_user("carol@example.com")
    with app.app_context():
        for email, password, status in [
            ("carol@example.com", "long-enough-pw", 409),
            ("dave@example.com", "short", 422),
            ("not-an-email", "long-enough-pw", 422),
        ]:
            try:
                create_user(email, password)
            except DomainError as exc:
                assert exc.status == status
            else:
                raise AssertionError("expected a DomainError")
            db.session.rollback()
        assert db.session.scalar(select(db.func.count()).select_from(User)) == 1
