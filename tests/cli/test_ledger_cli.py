"""`rongpay ledger ...` as a user types it: outputs, exit codes, errors without tracebacks."""

import json

import pytest

from rongpay.cli import main


@pytest.fixture
def run(db_url, capsys):
    def _run(*argv, stdin=None):
        args = [*argv]
        if args[0] == "ledger" or args[0] == "bench":
            args += ["--db", db_url]
        code = main(args)
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_create_show_check(run, tmp_path):
    accounts = write(
        tmp_path,
        "a.json",
        json.dumps(
            {
                "accounts": [
                    {
                        "id": 1,
                        "ledger": "EUR",
                        "code": "wallet",
                        "flags": ["debits_must_not_exceed_credits"],
                    },
                    {"id": "bank", "ledger": "EUR", "code": "nostro", "flags": ["history"]},
                ]
            }
        ),
    )
    code, out, _ = run("ledger", "accounts", "create", accounts)
    assert code == 0
    assert [json.loads(x) for x in out.splitlines()] == [
        {"id": 1, "result": "ok"},
        {"id": "bank", "result": "ok"},
    ]
    transfers = write(
        tmp_path,
        "t.jsonl",
        "\n".join(
            json.dumps(t)
            for t in [
                {"id": 5, "debit_account_id": "bank", "credit_account_id": 1, "amount": 700},
                {"id": 6, "debit_account_id": 1, "credit_account_id": "bank", "amount": 701},
            ]
        ),
    )
    code, out, err = run("ledger", "transfers", "create", transfers)
    assert code == 1
    assert [json.loads(x)["result"] for x in out.splitlines()] == ["ok", "exceeds_credits"]
    assert "1 of 2 transfers were not created" in err
    code, out, _ = run("ledger", "accounts", "show", "1")
    assert code == 0 and json.loads(out)["credits_posted"] == 700
    code, out, _ = run("ledger", "balance", "bank", "--at", "2000-01-01T00:00:00Z", "--json")
    assert code == 0 and json.loads(out)["debits_posted"] == 0
    code, out, _ = run("ledger", "transfers", "list", "1")
    assert code == 0 and json.loads(out.splitlines()[0])["balance"]["credits_posted"] == 700
    code, out, _ = run("ledger", "check")
    assert code == 0 and "ledger check: OK" in out
    code, out, _ = run("ledger", "check", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("ledger", "accounts", "show", "nope"), "no account nope"),
        (("ledger", "accounts", "show", "bad id"), "not a valid id"),
        (("ledger", "transfers", "show", "42"), "no transfer 42"),
        (("ledger", "transfers", "create", "/does/not/exist.json"), "cannot read"),
        (("ledger", "balance", "ghost"), "no account ghost"),
    ],
)
def test_errors_are_messages_not_tracebacks(run, argv, message):
    code, _, err = run(*argv)
    assert code in (1, 2)
    assert message in err and "Traceback" not in err


def test_malformed_json_lines_names_the_line(run, tmp_path):
    path = write(tmp_path, "t.jsonl", '{"id": 1}\n{not json\n')
    code, _, err = run("ledger", "transfers", "create", path)
    assert code == 2 and "t.jsonl:2" in err


def test_bad_database_url(capsys):
    assert main(["ledger", "check", "--db", "mysql://x/y"]) == 2
    assert "unsupported database URL" in capsys.readouterr().err


def test_bench_json_keys(run):
    code, out, _ = run("bench", "ledger", "--transfers", "300", "--accounts", "20", "--json")
    data = json.loads(out)
    assert code == 0
    assert {"transfers_per_s", "baseline_transfers_per_s", "ratio"} <= data.keys()
    assert data["ok_results"] == 300 and data["baseline_transfers"] == 300


def test_bench_rejects_bad_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "ledger", "--hot", "2"])
    assert info.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err
