"""Which schema changes hold a subtask (seed 004's migration risk), read from real files in
real git repositories: SQL, Alembic, Django, Rails and Prisma migrations; only the
subtask's own commits count; an approval holds for exactly the statements approved; a
cancel takes back only what the subtask wrote, and is safe to retry."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from activities.migration_risk import findings, narrows
from activities.migration_scan import decide_migration, scan_migration_risk
from contracts.migration import MigrationDecisionRequest, MigrationScanRequest

ID = ["-c", "user.name=t", "-c", "user.email=t@t"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *ID, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(root: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


def kinds(path: str, text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.severity) for f in findings(path, text)]


# ------------------------------------------------------------------ the reader


def test_sql_statements_by_risk() -> None:
    sql = """-- comments; are not statements
CREATE TABLE users (id serial PRIMARY KEY, name varchar(100) NOT NULL, age bigint);
ALTER TABLE users ADD COLUMN email text NOT NULL;        -- a new table: no rows yet
ALTER TABLE links ADD COLUMN slug text NOT NULL;
ALTER TABLE links ADD COLUMN note text NOT NULL DEFAULT '';
ALTER TABLE links ADD COLUMN code bigint GENERATED ALWAYS AS IDENTITY NOT NULL;
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE users ALTER COLUMN full_name TYPE varchar(20);
ALTER TABLE links DROP CONSTRAINT fk_owner, DROP COLUMN clicks;
ALTER TABLE links RENAME TO urls;
DROP TABLE IF EXISTS old_stuff;
ALTER TABLE urls ALTER COLUMN url SET NOT NULL;
CREATE INDEX links_url ON urls (url);
"""
    found = findings("db/002.sql", sql)
    assert [(f.line, f.kind, f.severity) for f in found] == [
        (4, "not null without default", "high"),
        (7, "rename column", "high"),
        (8, "type narrowing", "high"),  # varchar(100), carried over the rename, to (20)
        (9, "drop column", "high"),
        (10, "rename table", "high"),
        (11, "drop table", "high"),
        (12, "set not null", "medium"),
    ]
    assert found[0].rollback == "ALTER TABLE links DROP COLUMN slug;"
    assert found[1].rollback == "ALTER TABLE users RENAME COLUMN full_name TO name;"
    assert found[2].rollback == "ALTER TABLE users ALTER COLUMN full_name TYPE varchar(100);"
    assert found[4].rollback == "ALTER TABLE urls RENAME TO links;"
    assert found[5].rollback == ""  # a dropped table's data cannot be derived back


def test_type_changes_that_narrow() -> None:
    assert narrows("bigint", "integer") and narrows("varchar(100)", "varchar(20)")
    assert narrows("text", "varchar(255)") and narrows("numeric(10,2)", "numeric(10,0)")
    assert narrows("timestamp", "date") and narrows("text", "integer")
    assert not narrows("integer", "bigint") and not narrows("varchar(20)", "text")
    assert not narrows("varchar(20)", "varchar(200)")


def test_alembic_upgrade_only() -> None:
    text = """from alembic import op
import sqlalchemy as sa


def upgrade():
    op.create_table("owners", sa.Column("id", sa.Integer(), nullable=False))
    op.add_column("owners", sa.Column("name", sa.String(), nullable=False))
    op.add_column("links", sa.Column("owner", sa.Integer(), nullable=False))
    op.add_column("links", sa.Column("rank", sa.Integer(), nullable=False, server_default="0"))
    op.alter_column("links", "url", existing_type=sa.String(500), type_=sa.String(100))
    op.alter_column("links", "title", new_column_name="headline")
    op.drop_column("links", "clicks")


def downgrade():
    op.drop_table("owners")
    op.drop_column("links", "owner")
"""
    found = findings("alembic/versions/2_owner.py", text)
    assert [(f.line, f.kind) for f in found] == [
        (8, "not null without default"),
        (10, "type narrowing"),
        (11, "rename column"),
        (12, "drop column"),
    ]
    assert found[2].rollback == 'op.alter_column("links", "headline", new_column_name="title")'


def test_django_and_rails_and_prisma() -> None:
    django = """from django.db import migrations, models


class Migration(migrations.Migration):
    operations = [
        migrations.CreateModel(name="Owner", fields=[("id", models.AutoField(primary_key=True))]),
        migrations.AddField(model_name="owner", name="nick", field=models.TextField()),
        migrations.AddField(model_name="link", name="owner", field=models.IntegerField()),
        migrations.AddField(model_name="link", name="note", field=models.TextField(null=True)),
        migrations.AddField(model_name="link", name="rank", field=models.IntegerField(default=0)),
        migrations.RemoveField(model_name="link", name="clicks"),
        migrations.RenameField(model_name="link", old_name="url", new_name="target"),
        migrations.DeleteModel(name="Old"),
    ]
"""
    assert kinds("shortener/migrations/0002_owner.py", django) == [
        ("not null without default", "high"),
        ("drop column", "high"),
        ("rename column", "high"),
        ("drop table", "high"),
    ]
    rails = """class AddOwner < ActiveRecord::Migration[7.1]
  def up
    add_column :links, :owner_id, :integer, null: false
    add_column :links, :rank, :integer, null: false, default: 0
    remove_column :links, :clicks, :integer
    rename_column :links, :url, :target
  end

  def down
    drop_table :links
  end
end
"""
    found = findings("db/migrate/20260101_add_owner.rb", rails)
    assert [(f.line, f.kind) for f in found] == [
        (3, "not null without default"),
        (5, "drop column"),
        (6, "rename column"),
    ]
    assert found[1].rollback == "add_column :links, :clicks, :integer"
    prisma = 'ALTER TABLE "Link" DROP COLUMN "clicks";\n'
    assert kinds("prisma/migrations/20260101_x/migration.sql", prisma) == [("drop column", "high")]
    # Not migrations: a Python file that only mentions SQL, a Ruby file outside db/migrate.
    assert findings("app/queries.py", 'Q = "DROP TABLE links"\n') == []
    assert findings("lib/x.rb", "drop_table :links\n") == []


# ------------------------------------------------------------------ the activities


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A repository with a schema on main, a dependency branch that drops a column of its
    own, and a subtask worktree started from both."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(
        root,
        {
            "db/001_init.sql": "CREATE TABLE links (id integer, url text, clicks bigint, "
            "title varchar(200));\n",
            "db/schema.sql": "-- the whole schema\nCREATE TABLE tags (id integer);\n",
        },
        "schema",
    )
    git(root, "checkout", "-qb", "feat/dep")
    commit(root, {"db/002_dep.sql": "ALTER TABLE tags DROP COLUMN id;\n"}, "the dependency's")
    git(root, "checkout", "-q", "main")
    wt = tmp_path / "wt"
    git(root, "worktree", "add", "-q", "-b", "feat/sub", str(wt), "main")
    git(wt, "merge", "-q", "--no-ff", "-m", "merge dep", "feat/dep")
    design = root / "design"
    design.mkdir()
    return wt, design


def request(wt: Path, design: Path) -> MigrationScanRequest:
    return MigrationScanRequest(
        worktree=str(wt),
        design_dir=str(design),
        subtask="sub",
        base_branch="main",
        dependency_branches=["feat/dep"],
        remote=None,
    )


def test_only_the_subtasks_own_statements_count_and_an_approval_holds_for_them(
    project: tuple[Path, Path],
) -> None:
    wt, design = project
    req = request(wt, design)
    assert scan_migration_risk(req).findings == []  # the dependency's drop is not ours
    schema = (wt / "db/schema.sql").read_text()
    commit(
        wt,
        {
            "db/schema.sql": schema + "ALTER TABLE tags ADD COLUMN name text NOT NULL;\n",
            "db/003_sub.sql": "ALTER TABLE links ALTER COLUMN title TYPE varchar(50);\n",
        },
        "the subtask's",
    )
    scan = scan_migration_risk(req)
    assert [(f.path, f.line, f.kind) for f in scan.high] == [
        ("db/003_sub.sql", 1, "type narrowing"),
        ("db/schema.sql", 3, "not null without default"),  # only the line it added counts
    ]
    assert not scan.approved and scan.report_path
    report = Path(scan.report_path).read_text()
    assert "**waiting for a person**" in report
    assert "`ALTER TABLE links ALTER COLUMN title TYPE varchar(200);`" in report

    approve = MigrationDecisionRequest(scan=req, choice="approve", fingerprint=scan.fingerprint)
    decide_migration(approve)
    decide_migration(approve)  # a retry writes nothing twice
    assert Path(scan.report_path).read_text().count("Approved by a person") == 1
    assert scan_migration_risk(req).approved  # a restarted build does not ask again
    commit(wt, {"db/004_more.sql": "DROP TABLE tags;\n"}, "more")
    again = scan_migration_risk(req)
    assert not again.approved and len(again.high) == 3  # new statements: asked anew


def test_a_cancel_takes_back_only_what_the_subtask_wrote_and_is_safe_to_retry(
    project: tuple[Path, Path],
) -> None:
    wt, design = project
    req = request(wt, design)
    schema = (wt / "db/schema.sql").read_text()
    commit(
        wt,
        {
            "db/schema.sql": schema + "DROP TABLE tags;\n",
            "db/003_sub.sql": "ALTER TABLE links DROP COLUMN clicks;\n",
            "src/app.txt": "the feature\n",
        },
        "the subtask's",
    )
    scan = scan_migration_risk(req)
    paths = sorted({f.path for f in scan.high})
    cancel = MigrationDecisionRequest(
        scan=req, choice="cancel", fingerprint=scan.fingerprint, paths=paths
    )
    done = decide_migration(cancel)
    assert done.reverted == ["db/003_sub.sql", "db/schema.sql"] and done.problem is None
    assert (wt / "db/schema.sql").read_text() == schema
    assert not (wt / "db/003_sub.sql").exists()
    assert (wt / "src/app.txt").exists() and (wt / "db/002_dep.sql").exists()
    assert git(wt, "status", "--porcelain") == ""
    head = git(wt, "rev-parse", "HEAD")
    assert decide_migration(cancel).commit is None  # retried: nothing left to take back
    assert git(wt, "rev-parse", "HEAD") == head
    assert scan_migration_risk(req).high == []
    assert "No high-risk statement remains" in Path(scan.report_path or "").read_text()
