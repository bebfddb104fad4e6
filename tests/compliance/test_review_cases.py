"""Review findings on cases, reports, complaints, KYC and documents (A3-A10, B1-B2, C1-C2,
F1-F2): each test failed before its fix. Database tests run on both engines."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.cli import main
from rongpay.compliance import cases, complaints, store
from rongpay.compliance.cases import Outcome
from rongpay.compliance.documents import check_cn_resident_id, check_passport_mrz, mrz_check_digit
from rongpay.compliance.errors import InvalidInput, ReportWriteError, WorkflowError
from rongpay.compliance.kyc import SpendTotals, load_ratings
from rongpay.compliance.reports import complaints_report, suspicious_transaction_report
from rongpay.compliance.screening_service import SAMPLE_LIST

from .test_cases import ALERT, EVENTS


def _alert(**changes: Any) -> dict[str, Any]:
    return {**ALERT, **changes}


def _started(engine: Engine, by: str = "ana") -> str:
    (case_id,) = cases.import_alerts(engine, [ALERT], by="system", events=EVENTS)
    cases.start(engine, case_id, by=by)
    return case_id


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --- A3: an unopenable database is a clear error, exit 2 ---------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["cases", "list"],
        ["complaints", "list"],
        ["reports", "complaints", "--from", "2026-11-01", "--to", "2026-12-01", "--by", "ops"],
    ],
)
def test_unopenable_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    not_a_db = tmp_path / "notadb.jsonl"
    not_a_db.write_text('{"id": "t1"}\n' * 50, encoding="utf-8")
    out = ["--out", str(tmp_path)] if command[0] == "reports" else []
    for db in ("postgresql://nobody@127.0.0.1:1/x", str(tmp_path), str(not_a_db)):
        assert main([*command, *out, "--db", db]) == 2, db
        assert "cannot open the database" in capsys.readouterr().err, db


# --- A4: over-long or mistyped fields are refused before they reach a column ------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"alert_id": "a" * 65},
        {"alert_id": 7},
        {"scenario": "s" * 33},
        {"scenario": ["cycle"]},
        {"accounts": ["x" * 257]},
        {"accounts": [""]},
        {"accounts": [1, 2]},
        {"transactions": ["t" * 257]},
        {"transactions": [1]},
        {"transactions": 5},
        {"score": True},
        {"score": 1.5},
        {"score": "0.5"},
        {"score": float("nan")},
        {"summary": 5},
    ],
)
def test_bad_alert_fields_are_refused(engine: Engine, changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="alert 1"):
        cases.import_alerts(engine, [_alert(**changes)], by="system")
    assert _count(engine, store.alerts) == 0 and _count(engine, store.cases) == 0


def test_long_complaint_customer_and_evidence_ref_are_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="customer"):
        complaints.open_complaint(
            engine, customer="c" * 300, category="fees", description="x", channel="app", by="ops"
        )
    case_id = _started(engine)
    with pytest.raises(InvalidInput, match="'id'"):
        cases.add_transactions(engine, case_id, by="ana", transactions=[{"id": "t" * 300}])
    with pytest.raises(InvalidInput, match="'id'"):
        cases.add_transactions(engine, case_id, by="ana", transactions=[{"id": ["t1"]}])


def test_cli_long_customer_exits_2(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["complaints", "open", "--customer", "c" * 300, "--category", "fees"]
    assert main([*args, "--text", "x", "--by", "ops", "--db", db_url]) == 2
    assert "customer" in capsys.readouterr().err


# --- A5: malformed alert and event files are errors, not tracebacks ---------------------------


def test_cases_import_with_malformed_alert_and_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    alerts, events = tmp_path / "alerts.jsonl", tmp_path / "events.jsonl"
    alerts.write_bytes(orjson.dumps(_alert(transactions=5)) + b"\n")
    events.write_bytes(orjson.dumps({"id": ["t1"]}) + b"\n" + orjson.dumps(EVENTS["t1"]) + b"\n")
    imp = ["cases", "import", str(alerts), "--events", str(events), "--by", "sys", "--db", db]
    assert main(imp) == 2
    assert "'transactions' must be a list" in capsys.readouterr().err
    alerts.write_bytes(orjson.dumps(ALERT) + b"\n")
    assert main(imp) == 0
    capsys.readouterr()
    evid = ["cases", "evidence", "CASE-000001", "--events", str(events), "--by", "ana"]
    assert main([*evid, "--id", "t1", "--db", db]) == 0
    assert main([*evid, "--id", "nope", "--db", db]) == 2
    assert "no event(s) nope" in capsys.readouterr().err


# --- A6: an unwritable report records nothing and uses no id ----------------------------------


def test_unwritable_str_records_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(orjson.dumps(ALERT) + b"\n")
    assert main(["cases", "import", str(alerts), "--by", "sys", "--db", db]) == 0
    out = tmp_path / "out"
    out.mkdir()
    (out / "STR-000001.json").mkdir()  # a directory where the file should go
    report = ["reports", "str", "CASE-000001", "--by", "mlro", "--out", str(out), "--db", db]
    assert main(report) == 2
    assert "cannot write the report" in capsys.readouterr().err
    assert main(["cases", "show", "CASE-000001", "--json", "--db", db]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert "report_generated" not in [a["action"] for a in shown["actions"]]
    (out / "STR-000001.json").rmdir()
    assert main(report) == 0
    assert capsys.readouterr().out.split()[0].endswith("STR-000001.json"), "no id used up"


def test_unwritable_complaints_report_records_nothing(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "CMPR-000001.html").mkdir()
    with pytest.raises(ReportWriteError, match="cannot write"):
        complaints_report(engine, date(2026, 1, 1), date(2026, 2, 1), by="ops", out_dir=tmp_path)
    assert _count(engine, store.reports) == 0
    assert not (tmp_path / "CMPR-000001.json").exists(), "both files or neither"


# --- A8: a huge CSV field names its line ------------------------------------------------------


def test_ratings_with_a_huge_field(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text("account,rating\n" + "a" * 200_000 + ",high\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 2"):
        load_ratings(path)


# --- A9: the first use of a counter races safely ----------------------------------------------


def test_parallel_first_complaints_get_distinct_ids(engine: Engine) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_one(n: int) -> None:
        barrier.wait()
        try:
            c = complaints.open_complaint(
                engine, customer=f"c{n}", category="fees", description="x", channel="app", by="ops"
            )
            ids.append(c.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(ids) == [f"CMP-{n:06d}" for n in range(1, 9)]


# --- A10: screen and kyc options --------------------------------------------------------------


def test_screen_unreadable_list_exits_2_malformed_list_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = ["--name", "John Smith"]
    assert main(["screen", "--list", str(tmp_path / "missing.csv"), *name]) == 2
    assert main(["screen", "--list", str(tmp_path), *name]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\n,nobody\n", encoding="utf-8")
    assert main(["screen", "--list", str(bad), *name]) == 3


@pytest.mark.parametrize(
    ("birth_date", "code"),
    [("2026-02-30", 2), ("1970-13", 2), ("1970-00", 2), ("70-01-01", 2), ("1970-02", 0)],
)
def test_screen_birth_date_must_be_real(
    capsys: pytest.CaptureFixture[str], birth_date: str, code: int
) -> None:
    args = ["screen", "--list", str(SAMPLE_LIST), "--name", "John Smith"]
    assert main([*args, "--birth-date", birth_date]) == code


def test_negative_spent_totals_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["kyc", "check", "--tier", "basic", "--amount", "100 CNY"]
    assert main([*base, "--spent-today", "-5000 CNY"]) == 2
    assert main([*base, "--spent-year", "-1 CNY"]) == 2
    assert "negative" in capsys.readouterr().err
    with pytest.raises(InvalidInput):
        SpendTotals(-1, 0)
    with pytest.raises(InvalidInput):
        SpendTotals(0, -1)


# --- B1: one person, however the name is written ----------------------------------------------


@pytest.mark.parametrize("closer", ["ANA", "  Ana ", "ａｎａ", "\u0430na", "\u0410NA"])
def test_four_eyes_sees_through_spelling(engine: Engine, closer: str) -> None:
    case_id = _started(engine, by="ana")
    with pytest.raises(WorkflowError) as refused:
        cases.close(engine, case_id, by=closer, outcome=Outcome.REPORTED, reason="file it")
    assert refused.value.code == "four_eyes"


@pytest.mark.parametrize("name", ["a\u200bna", "ana\u202e", "an\x00a", "\u200b", "   "])
def test_invisible_or_control_characters_in_names_are_refused(engine: Engine, name: str) -> None:
    case_id = _started(engine)
    with pytest.raises(InvalidInput):
        cases.close(engine, case_id, by=name, outcome=Outcome.REPORTED, reason="file it")


def test_actors_are_stored_canonical(engine: Engine) -> None:
    case_id = _started(engine, by="  Ana  Li ")
    assert cases.get_case(engine, case_id).case.investigator == "ana li"
    assert [c.id for c in cases.list_cases(engine, assignee="ANA LI")] == [case_id]


def test_cli_list_with_an_invisible_assignee_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["cases", "list", "--assignee", "a\u200bna", "--db", db]) == 2
    assert "invisible" in capsys.readouterr().err


# --- B2: whoever investigated cannot close ----------------------------------------------------


@pytest.mark.parametrize(
    "act",
    [
        lambda e, c: cases.add_note(e, c, by="bob", text="looks bad"),
        lambda e, c: cases.add_transactions(e, c, by="bob", transactions=[{"id": "t8"}]),
        lambda e, c: cases.escalate(e, c, by="bob", reason="to the MLRO"),
    ],
)
def test_anyone_who_investigated_cannot_close(
    engine: Engine, act: Callable[[Engine, str], object]
) -> None:
    case_id = _started(engine, by="ana")
    cases.add_transactions(engine, case_id, by="ana", transactions=[{"id": "t9"}])
    act(engine, case_id)
    with pytest.raises(WorkflowError) as refused:
        cases.close(engine, case_id, by="Bob", outcome=Outcome.REPORTED, reason="file it")
    assert refused.value.code == "four_eyes"
    assert (
        cases.close(engine, case_id, by="mlro", outcome=Outcome.REPORTED, reason="file it").status
        == "closed_reported"
    )
    actions = [(a["actor"], a["action"]) for a in cases.get_case(engine, case_id).actions]
    assert ("bob", "close_refused") in actions


# --- C1: each transaction once in the evidence and the STR ------------------------------------


def test_shared_transactions_listed_once(engine: Engine) -> None:
    first = _alert(alert_id="aml_1", transactions=["t1", "t2"])
    second = _alert(alert_id="aml_2", transactions=["t2", "t3"])
    (case_id,) = cases.import_alerts(engine, [first, second], by="system", events=EVENTS)
    cases.add_transactions(engine, case_id, by="ana", transactions=[EVENTS["t3"], EVENTS["t3"]])
    refs = [
        e["ref"] for e in cases.get_case(engine, case_id).evidence if e["kind"] == "transaction"
    ]
    assert sorted(refs) == ["t1", "t2", "t3"]
    with engine.begin() as conn:  # a duplicate attached before the fix
        conn.execute(
            store.evidence.insert().values(
                case_id=case_id,
                kind="transaction",
                ref="t1",
                data=orjson.dumps(EVENTS["t1"]).decode(),
                added_by="old",
                added_at=0,
            )
        )
    report = suspicious_transaction_report(engine, case_id, by="mlro")
    assert [t["id"] for t in report["transactions"]] == ["t1", "t2", "t3"]
    assert report["total_cny_minor"] == 3 * 8_000_000


# --- C2: the complaints report has every complaint of the period ------------------------------


def test_complaints_report_is_not_capped(engine: Engine) -> None:
    received = int(datetime(2026, 11, 4, tzinfo=UTC).timestamp())
    rows = [
        {
            "id": f"CMP-{n:06d}",
            "customer": f"c{n}",
            "channel": "app",
            "category": "fees",
            "description": "x",
            "status": "received",
            "received_at": received,
            "due_at": received + 15 * 86_400,
            "version": 1,
        }
        for n in range(1, 1_206)
    ]
    with engine.begin() as conn:
        conn.execute(store.complaints.insert(), rows)
    report = complaints_report(engine, date(2026, 11, 1), date(2026, 12, 1), by="ops")
    assert report["counts"]["received"] == 1_205
    assert len(report["complaints"]) == 1_205
    assert len({c["id"] for c in report["complaints"]}) == 1_205


# --- F1, F2: documents ------------------------------------------------------------------------


def test_full_width_digits_in_resident_id_are_refused() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in "11010519491231002X")
    assert check_cn_resident_id(full_width, today=date(2026, 11, 25)).reason == "bad_format"
    arabic_indic = "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X"
    assert check_cn_resident_id(arabic_indic, today=date(2026, 11, 25)).reason == "bad_format"


LINE1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
LINE2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<10"


def _line2(birth: str, expiry: str) -> str:
    body = LINE2[:13] + birth + mrz_check_digit(birth) + LINE2[20] + expiry
    body += mrz_check_digit(expiry) + LINE2[28:43]
    composite = body[0:10] + body[13:20] + body[21:43]
    return body + mrz_check_digit(composite)


def test_mrz_dates_must_be_real() -> None:
    assert check_passport_mrz(f"{LINE1}\n{_line2('740812', '120415')}").valid
    assert check_passport_mrz(f"{LINE1}\n{_line2('741312', '120415')}").reason == "bad_birth_date"
    assert check_passport_mrz(f"{LINE1}\n{_line2('740812', '120431')}").reason == "bad_expiry_date"
    assert check_passport_mrz(f"{LINE1}\n{_line2('000229', '280229')}").valid, "leap day 2000"


@pytest.mark.parametrize(
    "mrz",
    [
        f"{LINE1[:-1]}\n{LINE2}<",  # 43 + 45 characters
        f"{LINE1[:10]} {LINE1[10:]}\n{LINE2}",  # a space inside a line
        f"{LINE1}\n{LINE2[:20]}\n{LINE2[20:]}",  # three lines
    ],
)
def test_mrz_lines_must_each_be_44(mrz: str) -> None:
    assert check_passport_mrz(mrz).reason == "bad_format"
