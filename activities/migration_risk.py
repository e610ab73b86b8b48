"""Which schema-change statements are risky, read from migration files (pure: no I/O).

Formats: SQL DDL (any `.sql`, Prisma's `migration.sql` included), Alembic revisions (the
`upgrade()` body), Django migrations (`operations`), Rails migrations (`change`/`up`, never
`down`). High risk is what loses or breaks data already there: a drop, a rename (old
code and queries break), a NOT NULL column without a default on an existing table, and a
type that narrows. A reader, not a parser: a statement it cannot place is not a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from contracts.migration import MigrationFinding, Severity

_STATEMENT_CAP = 200
_ID = r'[`"\[]?([\w.]+)[`"\]]?'

# ---------------------------------------------------------------- which files


def migration_format(path: str, text: str) -> str | None:
    """'sql', 'alembic', 'django', 'rails' or None (not a migration file)."""
    lower = path.lower()
    if lower.endswith(".sql"):
        return "sql"
    if lower.endswith(".py"):
        if "from alembic import op" in text or "import alembic" in text:
            return "alembic"
        if "from django.db import migrations" in text and "/migrations/" in f"/{lower}":
            return "django"
    if lower.endswith(".rb") and "db/migrate/" in f"/{lower}":
        return "rails"
    return None


def findings(
    path: str,
    text: str,
    new_tables: set[str] | None = None,
    types: dict[tuple[str, str], str] | None = None,
) -> list[MigrationFinding]:
    """The risky statements of one migration file. `new_tables`: tables this change
    creates (a NOT NULL column on a table with no rows yet is no risk). `types`: column
    types known so far, `(table, column) -> type`, read and extended in file order (how
    a narrowing is told from a widening)."""
    kind = migration_format(path, text)
    created = set(new_tables or ()) | created_tables(path, text)
    if kind == "sql":
        hits = _sql(text, created, types if types is not None else {})
    elif kind == "alembic":
        hits = _alembic(_python_body(text, "upgrade"), created)
    elif kind == "django":
        hits = _django(text, created)
    elif kind == "rails":
        hits = _rails(_without_ruby_down(text), created)
    else:
        return []
    return [_finding(path, text, hit) for hit in hits]


def created_tables(path: str, text: str) -> set[str]:
    """Tables (or Django models, lower-cased) the file creates."""
    kind = migration_format(path, text)
    patterns = {
        "sql": r"create\s+table\s+(?:if\s+not\s+exists\s+)?" + _ID,
        "alembic": r"op\.create_table\(\s*['\"]([\w.]+)['\"]",
        "django": r"migrations\.CreateModel\(\s*(?:name\s*=\s*)?['\"](\w+)['\"]",
        "rails": r"create_table\s*\(?\s*[:'\"]([\w.]+)",
    }
    if kind not in patterns:
        return set()
    return {m.group(1).lower() for m in re.finditer(patterns[kind], text, re.IGNORECASE)}


class _Hit(NamedTuple):
    """What a reader found: where in the text, the statement, and its risk."""

    at: int
    statement: str
    kind: str
    severity: Severity
    rollback: str = ""
    why: str = ""


def _no_default(at: int, statement: str, rollback: str, detail: str = "") -> _Hit:
    why = f"existing rows have no value for it{' ' + detail if detail else ''}"
    return _Hit(at, statement, "not null without default", "high", rollback, why)


def _renamed(at: int, statement: str, kind: str, rollback: str) -> _Hit:
    return _Hit(at, statement, kind, "high", rollback, "code that uses the old name breaks")


def _finding(path: str, text: str, hit: _Hit) -> MigrationFinding:
    shown = " ".join(hit.statement.split())
    if len(shown) > _STATEMENT_CAP:
        shown = shown[: _STATEMENT_CAP - 1] + "…"
    return MigrationFinding(
        path=path,
        line=text.count("\n", 0, hit.at) + 1,
        statement=shown,
        kind=hit.kind,
        severity=hit.severity,
        rollback=hit.rollback,
        why=hit.why,
    )


# ---------------------------------------------------------------- SQL

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _statements(text: str) -> Iterator[tuple[int, str]]:
    """(offset, statement) for each `;`-separated statement, comments blanked (offsets kept)."""
    blank = _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    start = 0
    for m in re.finditer(r";|$", blank):
        chunk = blank[start : m.start()]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            yield start + lead, chunk.strip()
        start = m.end()
        if m.end() >= len(blank):
            break


def _split_actions(body: str) -> list[str]:
    """An ALTER TABLE's comma-separated actions (commas inside parentheses stay)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [a for a in out if a]


def _sql(text: str, created: set[str], types: dict[tuple[str, str], str]) -> Iterator[_Hit]:
    for at, stmt in _statements(text):
        low = " ".join(stmt.lower().split())
        if m := re.match(
            r"create\s+table\s+(?:if\s+not\s+exists\s+)?" + _ID + r"\s*\((.*)\)", stmt, re.I | re.S
        ):
            for col in _split_actions(m.group(2)):
                if c := re.match(_ID + r"\s+(.+)", col, re.S):
                    types[(m.group(1).lower(), c.group(1).lower())] = _sql_type(c.group(2))
            continue
        if m := re.match(r"drop\s+(table|schema|database)\s+(?:if\s+exists\s+)?" + _ID, low):
            yield _Hit(
                at,
                stmt,
                f"drop {m.group(1)}",
                "high",
                why="the data in it is gone; only a backup brings it back",
            )
            continue
        m = re.match(
            r"alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?" + _ID + r"\s+(.*)", stmt, re.I | re.S
        )
        if not m:
            continue
        table = m.group(1)
        for action in _split_actions(m.group(2)):
            found = _alter_action(table, action, created, types)
            if found is not None:
                kind, severity, rollback, why = found
                yield _Hit(at, stmt, kind, severity, rollback, why)


def _alter_action(
    table: str, action: str, created: set[str], types: dict[tuple[str, str], str]
) -> tuple[str, Severity, str, str] | None:
    a = " ".join(action.split())
    key = table.lower()
    if m := re.match(r"rename\s+to\s+" + _ID + "$", a, re.I):
        for t, col in [k for k in types if k[0] == key]:
            types[(m.group(1).lower(), col)] = types.pop((t, col))
        return (
            "rename table",
            "high",
            f"ALTER TABLE {m.group(1)} RENAME TO {table};",
            ("code and queries that use the old name break"),
        )
    if m := re.match(r"rename\s+(?:column\s+)?" + _ID + r"\s+to\s+" + _ID + "$", a, re.I):
        old, new = m.group(1), m.group(2)
        if (key, old.lower()) in types:
            types[(key, new.lower())] = types.pop((key, old.lower()))
        return (
            "rename column",
            "high",
            f"ALTER TABLE {table} RENAME COLUMN {new} TO {old};",
            ("code and queries that use the old name break"),
        )
    if m := re.match(
        r"drop\s+(?:column\s+)?(?:if\s+exists\s+)?" + _ID + r"(\s+cascade|\s+restrict)?$", a, re.I
    ):
        col = m.group(1)
        if col.lower() in ("constraint", "index", "primary", "foreign", "default", "check"):
            return None
        old = types.get((key, col.lower()))
        rollback = f"ALTER TABLE {table} ADD COLUMN {col} {old};" if old else ""
        return (
            "drop column",
            "high",
            rollback,
            "the column's data is gone; only a backup brings it back",
        )
    if m := re.match(r"add\s+(?:column\s+)?(?:if\s+not\s+exists\s+)?" + _ID + r"\s+(.+)$", a, re.I):
        col, spec = m.group(1), m.group(2)
        if col.lower() in ("constraint", "index", "primary", "foreign", "unique", "check"):
            return None
        types[(key, col.lower())] = _sql_type(spec)
        if (
            re.search(r"\bnot\s+null\b", spec, re.I)
            and not re.search(r"\bdefault\b|\bgenerated\b|\bidentity\b|serial\b", spec, re.I)
            and key not in created
        ):
            return (
                "not null without default",
                "high",
                f"ALTER TABLE {table} DROP COLUMN {col};",
                ("existing rows have no value for it: the statement fails, or needs a backfill"),
            )
        return None
    if m := re.match(
        r"(?:alter\s+(?:column\s+)?"
        + _ID
        + r"\s+(?:set\s+data\s+)?type\s+|modify\s+(?:column\s+)?"
        + _ID
        + r"\s+)(.+?)(?:\s+using\s+.*)?$",
        a,
        re.I,
    ):
        col = m.group(1) or m.group(2)
        new = _sql_type(m.group(3))
        old = types.get((key, col.lower()))
        types[(key, col.lower())] = new
        return _type_change(f"ALTER TABLE {table} ALTER COLUMN {col} TYPE {{old}};", old, new)
    if m := re.match(r"alter\s+(?:column\s+)?" + _ID + r"\s+set\s+not\s+null$", a, re.I):
        return (
            "set not null",
            "medium",
            f"ALTER TABLE {table} ALTER COLUMN {m.group(1)} DROP NOT NULL;",
            ("fails if any existing row has no value"),
        )
    return None


_TYPE_ENDS = (
    r"(?=\s+(?:not|null|default|primary|references|unique|check|constraint|generated|collate)\b"
    r"|\s*$)"
)


def _sql_type(spec: str) -> str:
    """The type at the start of a column spec: `varchar(20) not null` -> `varchar(20)`."""
    m = re.match(r"\s*([a-z_][\w ]*?(?:\([^)]*\))?)" + _TYPE_ENDS, spec, re.I)
    words = spec.split()
    found = m.group(1) if m else (words[0] if words else "")
    return " ".join(found.lower().split())


_INT_RANK = {"smallint": 2, "int2": 2, "integer": 4, "int": 4, "int4": 4, "bigint": 8, "int8": 8}
_TEXT = ("text", "varchar", "character varying", "char", "character", "string", "nvarchar")


def narrows(old: str, new: str) -> bool | None:
    """Whether changing a column from `old` to `new` can lose or reject data; None: unknown."""
    o, n = old.lower().strip(), new.lower().strip()
    if o == n:
        return False
    ob, nb = re.sub(r"\(.*", "", o).strip(), re.sub(r"\(.*", "", n).strip()
    on, nn = re.findall(r"\d+", o), re.findall(r"\d+", n)
    if ob in _INT_RANK and nb in _INT_RANK:
        return _INT_RANK[nb] < _INT_RANK[ob]
    if ob.startswith(_TEXT) and nb.startswith(_TEXT):
        if not nn:
            return False  # to an unbounded text type
        if not on:
            return True  # unbounded to bounded
        return int(nn[0]) < int(on[0])
    if ob in ("numeric", "decimal") and nb in ("numeric", "decimal") and on and nn:
        scale_o = int(on[1]) if len(on) > 1 else 0
        scale_n = int(nn[1]) if len(nn) > 1 else 0
        return int(nn[0]) < int(on[0]) or scale_n < scale_o
    if ob.startswith("timestamp") and nb == "date":
        return True
    if (ob in _INT_RANK and nb.startswith(_TEXT)) or (
        ob in _INT_RANK and nb in ("numeric", "decimal", "bigint")
    ):
        return False
    return True if ob and nb and ob != nb else None


def _type_change(rollback: str, old: str | None, new: str) -> tuple[str, Severity, str, str]:
    if old is None:
        return (
            "type change",
            "medium",
            "",
            f"to {new}; the old type is not known here, so narrowing cannot be ruled out",
        )
    narrowing = narrows(old, new)
    if narrowing:
        return (
            "type narrowing",
            "high",
            rollback.format(old=old),
            (f"{old} to {new}: values that do not fit are rejected or cut"),
        )
    if narrowing is None:
        return "type change", "medium", rollback.format(old=old), f"{old} to {new}"
    return "type widening", "low", rollback.format(old=old), f"{old} to {new}"


# ---------------------------------------------------------------- Python (Alembic, Django)


def _calls(text: str, prefix: str) -> Iterator[tuple[int, str, str]]:
    """(offset, name, argument text) of each `prefix.name(...)` call, parentheses balanced."""
    for m in re.finditer(re.escape(prefix) + r"\.(\w+)\(", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield m.start(), m.group(1), text[m.end() : i - 1]


def _python_body(text: str, name: str) -> str:
    """The text of `def name(...)`'s body (other lines blanked, so offsets and lines hold)."""
    m = re.search(rf"^(\s*)def {name}\(.*?\).*?:\s*$", text, re.M)
    if not m:
        return ""
    indent, end = len(m.group(1)), len(text)
    for nxt in re.finditer(r"^(\s*)\S", text[m.end() :], re.M):
        if len(nxt.group(1)) <= indent:
            end = m.end() + nxt.start()
            break
    return re.sub(r"[^\n]", " ", text[: m.end()]) + text[m.end() : end]


def _strings(args: str) -> list[str]:
    return re.findall(r"['\"]([^'\"]*)['\"]", args)


def _kw(args: str, name: str) -> str | None:
    """A keyword argument's value as written (quotes dropped), up to its top-level comma."""
    m = re.search(rf"\b{name}\s*=\s*", args)
    if not m:
        return None
    depth, i = 0, m.end()
    while i < len(args) and not (args[i] == "," and depth == 0):
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(args[i], 0)
        if depth < 0:
            break
        i += 1
    return args[m.end() : i].strip().strip("'\"") or None


def _alembic(text: str, created: set[str]) -> Iterator[_Hit]:
    for at, name, args in _calls(text, "op"):
        s = _strings(args)
        stmt = f"op.{name}({args})"
        if name == "drop_table" and s:
            yield _Hit(at, stmt, "drop table", "high", why="the data in it is gone")
        elif name == "drop_column" and len(s) >= 2:
            yield _Hit(at, stmt, "drop column", "high", why="the column's data is gone")
        elif name == "rename_table" and len(s) >= 2:
            yield _renamed(at, stmt, "rename table", f'op.rename_table("{s[1]}", "{s[0]}")')
        elif name == "alter_column" and len(s) >= 2:
            if new := _kw(args, "new_column_name"):
                yield _renamed(
                    at,
                    stmt,
                    "rename column",
                    f'op.alter_column("{s[0]}", "{new}", new_column_name="{s[1]}")',
                )
            if new_type := _kw(args, "type_"):
                old = _kw(args, "existing_type")
                kind, severity, _, why = _type_change(
                    "", _sa_type(old) if old else None, _sa_type(new_type)
                )
                back = f'op.alter_column("{s[0]}", "{s[1]}", type_={old})' if old else ""
                yield _Hit(at, stmt, kind, severity, back, why)
            if _kw(args, "nullable") == "False":
                yield _Hit(
                    at,
                    stmt,
                    "set not null",
                    "medium",
                    f'op.alter_column("{s[0]}", "{s[1]}", nullable=True)',
                    "fails if any existing row has no value",
                )
        elif name == "add_column" and len(s) >= 2:
            if (
                re.search(r"nullable\s*=\s*False", args)
                and not re.search(r"server_default\s*=", args)
                and s[0].lower() not in created
            ):
                yield _Hit(
                    at,
                    stmt,
                    "not null without default",
                    "high",
                    f'op.drop_column("{s[0]}", "{s[1]}")',
                    "existing rows have no value for it (no server_default)",
                )


def _sa_type(expr: str) -> str:
    """`sa.String(length=20)` / `sa.String(20)` -> `varchar(20)`; `sa.Integer()` -> `integer`."""
    m = re.match(r"(?:sa\.|sqlalchemy\.)?(\w+)\s*(?:\((.*)\))?", expr.strip())
    if not m:
        return expr
    name, arg = m.group(1).lower(), re.findall(r"\d+", m.group(2) or "")
    base = {
        "string": "varchar",
        "unicode": "varchar",
        "text": "text",
        "integer": "integer",
        "smallinteger": "smallint",
        "biginteger": "bigint",
        "numeric": "numeric",
        "datetime": "timestamp",
        "date": "date",
        "boolean": "boolean",
    }.get(name, name)
    return f"{base}({','.join(arg)})" if arg else base


def _django(text: str, created: set[str]) -> Iterator[_Hit]:
    for at, name, args in _calls(text, "migrations"):
        s = _strings(args)
        stmt = f"migrations.{name}({args})"
        model = (_kw(args, "model_name") or (s[0] if s else "")).lower()
        if name == "DeleteModel":
            yield _Hit(at, stmt, "drop table", "high", why="the model's rows are gone")
        elif name == "RemoveField":
            yield _Hit(at, stmt, "drop column", "high", why="the field's data is gone")
        elif name == "RenameField":
            old, new = _kw(args, "old_name"), _kw(args, "new_name")
            back = (
                f"migrations.RenameField(model_name='{model}', old_name='{new}', new_name='{old}')"
            )
            yield _renamed(at, stmt, "rename column", back)
        elif name == "RenameModel":
            old, new = _kw(args, "old_name"), _kw(args, "new_name")
            back = f"migrations.RenameModel(old_name='{new}', new_name='{old}')"
            yield _renamed(at, stmt, "rename table", back)
        elif name == "AddField" and model not in created:
            field = args[args.find("field") :] if "field" in args else ""
            if field and not re.search(r"null\s*=\s*True|default\s*=|ManyToManyField", field):
                col = _kw(args, "name") or "?"
                back = f"migrations.RemoveField(model_name='{model}', name='{col}')"
                yield _no_default(at, stmt, back, "(no null=True, no default)")
        elif name == "AlterField":
            yield _Hit(
                at,
                stmt,
                "type change",
                "medium",
                why="the field's definition changes; whether it narrows is not known here",
            )


# ---------------------------------------------------------------- Rails


def _without_ruby_down(text: str) -> str:
    """Blank `def down ... end` (the rollback), keeping line numbers."""
    m = re.search(r"^(\s*)def down\b.*$", text, re.M)
    if not m:
        return text
    end = re.compile(rf"^{m.group(1)}end\b.*$", re.M).search(text, m.end())
    stop = end.end() if end else len(text)
    return text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start() : stop]) + text[stop:]


def _rails(text: str, created: set[str]) -> Iterator[_Hit]:
    for m in re.finditer(
        r"^\s*(drop_table|remove_column|rename_column|rename_table|add_column|change_column|change_column_null)\b\s*\(?([^\n]*)",
        text,
        re.M,
    ):
        name, args = m.group(1), m.group(2)
        syms = re.findall(r":(\w+)|['\"](\w+)['\"]", args)
        s = [a or b for a, b in syms]
        at, stmt = m.start(1), f"{name} {args}"
        if name == "drop_table" and s:
            yield _Hit(at, stmt, "drop table", "high", why="the data in it is gone")
        elif name == "remove_column" and len(s) >= 2:
            back = f"add_column :{s[0]}, :{s[1]}, :{s[2]}" if len(s) >= 3 else ""
            yield _Hit(at, stmt, "drop column", "high", back, "the column's data is gone")
        elif name == "rename_column" and len(s) >= 3:
            back = f"rename_column :{s[0]}, :{s[2]}, :{s[1]}"
            yield _renamed(at, stmt, "rename column", back)
        elif name == "rename_table" and len(s) >= 2:
            back = f"rename_table :{s[1]}, :{s[0]}"
            yield _renamed(at, stmt, "rename table", back)
        elif name == "add_column" and len(s) >= 2:
            if (
                re.search(r"null:\s*false", args)
                and "default:" not in args
                and s[0].lower() not in created
            ):
                back = f"remove_column :{s[0]}, :{s[1]}"
                yield _no_default(at, stmt, back)
        elif name == "change_column" and len(s) >= 3:
            yield _Hit(
                at,
                stmt,
                "type change",
                "medium",
                why=f"to {s[2]}; whether it narrows is not known here",
            )
        elif name == "change_column_null" and "false" in args:
            yield _Hit(
                at,
                stmt,
                "set not null",
                "medium",
                why="fails if any existing row has no value",
            )
