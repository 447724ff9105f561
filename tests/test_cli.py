"""`qapc check` and `qapc fmt`: exit codes 0/1/2, output formats, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qapdsl import ir
from qapdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
JET = ROOT / "specs" / "jet.qap"
BAD = 'model m {\n    input 16\n    dense out 5 sofmax\n}\ntrain {\n    data openml "x"\n}\n'


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_clean_spec_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", str(JET)], capsys)
    assert (code, err) == (0, "")
    assert out.strip() == f"{JET}: ok (model jet_tagger, 4 layers)"


def test_check_all_example_specs(capsys: pytest.CaptureFixture[str]) -> None:
    specs = sorted(str(p) for p in (ROOT / "specs").glob("*.qap"))
    code, out, _ = run(["check", *specs], capsys)
    assert code == 0 and out.count(": ok (") == len(specs)


def test_check_spec_error_exits_1_with_rendered_diagnostic(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.qap").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["check", "bad.qap"], capsys)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "bad.qap:3:17: error[E204]: unknown activation 'sofmax'",
        "3 |     dense out 5 sofmax",
        "  |                 ^^^^^^",
        "  = hint: did you mean 'softmax'? (expected one of: linear, relu, sigmoid, softmax, tanh)",
        "1 error",
    ]


def test_check_json_diagnostics(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.qap").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["check", "--json", "bad.qap"], capsys)
    assert code == 1
    (d,) = json.loads(out)
    assert (d["code"], d["file"], d["line"], d["column"], d["end_column"]) == ("E204", "bad.qap", 3, 17, 23)
    code, out, _ = run(["check", "--json", str(JET)], capsys)
    assert code == 0 and json.loads(out) == []


def test_emit_ir_round_trips_to_an_equal_spec(capsys: pytest.CaptureFixture[str]) -> None:
    from qapdsl.loader import load_file

    code, out, _ = run(["check", "--emit-ir", str(JET)], capsys)
    assert code == 0
    spec = ir.Spec.model_validate_json(out)
    assert spec == load_file(JET).spec
    assert spec.model.layers[0].span is not None and spec.model.layers[0].span.line == 6


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "no/such/file.qap"], "qapc: cannot read no/such/file.qap"),
        (["fmt", "no/such/file.qap"], "qapc: cannot read no/such/file.qap"),
    ],
)
def test_missing_file_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2 and err.startswith(message)


def test_directory_as_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "fmt"):
        code, _, err = run([command, str(tmp_path)], capsys)
        assert code == 2 and "cannot read" in err and "Traceback" not in err


def test_empty_file_is_a_spec_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.qap").write_bytes(b"")
    code, _, err = run(["check", str(tmp_path / "empty.qap")], capsys)
    assert code == 1 and "error[E101]" in err
    code, _out, _ = run(["fmt", "--check", str(tmp_path / "empty.qap")], capsys)
    assert code == 0


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    for argv in (["check"], ["check", "--bogus", str(JET)], ["nosuchcommand"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2


def test_fmt_check_diff_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.qap"
    path.write_text("model m{input 16 # in\ndense out 5 softmax}\n", encoding="utf-8")
    code, _, err = run(["fmt", "--check", str(path)], capsys)
    assert code == 1 and f"would reformat {path}" in err
    code, out, _ = run(["fmt", "--diff", str(path)], capsys)
    assert code == 1 and "+    input 16  # in" in out and out.startswith(f"--- {path}")
    assert path.read_text(encoding="utf-8").startswith("model m{")  # --check and --diff write nothing
    code, _, err = run(["fmt", str(path)], capsys)
    assert code == 0 and path.read_text(encoding="utf-8") == "model m {\n    input 16  # in\n    dense out 5 softmax\n}\n"
    code, _, _ = run(["fmt", "--check", str(path)], capsys)
    assert code == 0


def test_fmt_syntax_error_exits_1_and_keeps_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.qap"
    path.write_text("model m {\n", encoding="utf-8")
    code, _, err = run(["fmt", str(path)], capsys)
    assert code == 1 and "error[E003]" in err and path.read_text(encoding="utf-8") == "model m {\n"


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe\x00garbage", b"model m {" * 5000, b"model m { input " + b"[" * 100000, b"\x00", b"model m { input 1" + b"9" * 5000 + b" }"],
    ids=["binary", "unclosed-many", "deep-list", "nul", "huge-number"],
)
def test_no_traceback_in_a_fresh_process(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.qap"
    path.write_bytes(data)
    for command in ("check", "fmt"):
        proc = subprocess.run([sys.executable, "-m", "qapdsl.cli", command, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        if command == "check" or proc.returncode != 0:  # fmt may accept what check rejects (a huge number)
            assert proc.returncode == 1 and "error[E" in proc.stderr, proc.stderr


def test_check_path_imports_no_ml_stack_and_no_other_command() -> None:
    code = (
        "import sys, io, contextlib\n"
        "from qapdsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['check', {str(JET)!r}])\n"
        # the build *plan* and the dialect's layer rendering (pure Python) are part of checking; templates and writing are not
        "heavy = ('tensorflow', 'keras', 'qkeras', 'hls4ml', 'numpy', 'jinja2', 'yaml',\n"
        "         'qapdsl.backends.hls4ml', 'qapdsl.backends.manifest', 'qapdsl.outdir.atomic', 'qapdsl.runner', 'qapdsl.sweep')\n"
        "print(rc, [m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    assert proc.stdout.strip() == "0 []"


def test_check_builds_no_pydantic_schema() -> None:
    """The lowering builds the IR unvalidated (it checked every value); validating would build every schema (~40 ms)."""
    code = (
        "import io, contextlib\n"
        "from qapdsl.cli import main\n"
        "from qapdsl import ir, source\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['check', {str(JET)!r}])\n"
        "built = [c.__name__ for c in [*vars(ir).values(), source.Span] if isinstance(c, type) and hasattr(c, '__pydantic_complete__') and c.__pydantic_complete__]\n"
        "print(rc, built)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    assert proc.stdout.strip() == "0 []"


def test_json_of_several_files_is_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.qap").write_text(BAD, encoding="utf-8")
    (tmp_path / "b.qap").write_text(BAD.replace("input 16", "input 16 16"), encoding="utf-8")
    code, out, _ = run(["check", "--json", str(tmp_path / "a.qap"), str(JET), str(tmp_path / "b.qap")], capsys)
    assert code == 1
    assert [(Path(d["file"]).name, d["code"]) for d in json.loads(out)] == [("a.qap", "E204"), ("b.qap", "E206"), ("b.qap", "E204")]


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["chek", "x.qap"], "invalid choice: 'chek'"),
        (["sweeep", "x.qap"], "did you mean 'sweep'?"),
        (["docter"], "did you mean 'doctor'?"),
        (["run", str(JET), "--epohcs", "3"], "unrecognized arguments: --epohcs 3; did you mean '--epochs'?"),
        (["check", str(JET), "--emit-it"], "did you mean '--emit-ir'?"),
        (["report", str(JET), "--format", "markdwn"], "argument --format: invalid choice: 'markdwn'"),
        (["report", str(JET), "--format", "markdwn"], "did you mean 'markdown'?"),
        (["build", str(JET), "--dialect", "hgq"], "did you mean 'hgq2'?"),
        (["new", "x.qap", "--prune", "iterativ"], "did you mean 'iterative'?"),
    ],
)
def test_did_you_mean_for_commands_options_and_choices(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert hint in err, err
    assert "Traceback" not in err
    if argv[0] == "chek":
        assert "did you mean 'check'?" in err


def test_unrecognized_option_shows_the_subcommands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", str(JET), "--formt", "json"])
    err = capsys.readouterr().err
    assert err.startswith("usage: qapc report ") and "did you mean '--format'" in err


def test_nothing_close_gives_no_guess(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["zzzzzz"])
    assert "did you mean" not in capsys.readouterr().err


def test_every_argument_of_every_command_is_documented() -> None:
    import argparse

    from qapdsl.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"check", "fmt", "build", "run", "report", "sweep", "lsp", "doctor", "new"} <= set(sub.choices)
    for name, command in sub.choices.items():
        assert command.description, f"qapc {name} has no description"
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            label = "/".join(action.option_strings) or action.dest
            assert action.help and action.help.strip(), f"qapc {name}: {label} has no help"
    for action in sub._choices_actions:
        assert action.help, f"qapc {action.dest} has no one-line help"


def test_a_missing_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A core install (no optuna, no pygls): commands of an extra say which one to install, not "internal error"."""
    import qapdsl.commands.sweep as sweep_command

    def no_optuna(*args: object, **kwargs: object) -> int:
        raise ModuleNotFoundError("No module named 'optuna'", name="optuna")

    monkeypatch.setattr(sweep_command, "run", no_optuna)
    assert main(["sweep", str(ROOT / "specs" / "digits_dialects.qap"), "-o", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "qapc sweep: needs optuna, which comes with an extra: pip install 'qapc[sweep]'"
