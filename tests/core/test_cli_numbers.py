"""Every numeric flag of every command is checked where it is parsed: NaN, infinities, negatives and
(unless the flag says otherwise) 0 end in one line and exit 1 before any work starts."""

from __future__ import annotations

import math

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from smileynet.cli import app
from smileynet.cli_common import AT_LEAST_ZERO, FLAG_BOUNDS, POSITIVE, Bounds, Command, Group, parse_number
from smileynet.errors import UserError


def leaf_commands(group, prefix: str = "") -> dict:
    found = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        found.update(leaf_commands(command, full + " ") if hasattr(command, "commands") else {full: command})
    return found


COMMANDS = leaf_commands(typer.main.get_command(app))


def numeric_flags() -> list[tuple[str, str]]:
    found = []
    for name, command in sorted(COMMANDS.items()):
        for param in command.params:
            if getattr(param, "opts", None) and param.type_descriptor.annotation in (int, float):
                found.append((name, max(param.opts, key=len)))
    return found


FLAGS = numeric_flags()


def test_the_walk_finds_the_flags_it_is_about():
    assert {
        ("download", "--deadline"),
        ("demo", "--minutes"),
        ("train", "--weight-decay"),
        ("embed", "--part-rows"),
        ("transfer", "--finetune-epochs"),
        ("listen bluesky", "--duration"),
        ("listen mastodon", "--poll-seconds"),
        ("serve", "--header-timeout"),
        ("serve", "--max-upload-mb"),
    } <= set(FLAGS)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1"])
@pytest.mark.parametrize(("command", "flag"), FLAGS)
def test_every_numeric_flag_refuses_nan_inf_and_negatives(run_cli, command, flag, value):
    code, out, err = run_cli(*command.split(), f"{flag}={value}")
    assert code == 1, err
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"smileynet: error: {flag} must be "), err


@pytest.mark.parametrize(("command", "flag"), [(c, f) for c, f in FLAGS if f not in FLAG_BOUNDS])
def test_zero_is_refused_unless_the_flag_allows_it(run_cli, command, flag):
    code, _, err = run_cli(*command.split(), flag, "0")
    assert code == 1 and f"{flag} must be " in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("command", "flag"), [(c, f) for c, f in FLAGS if FLAG_BOUNDS.get(f, POSITIVE).inclusive])
def test_flags_that_allow_their_lowest_value_take_it(command, flag):
    bounds = FLAG_BOUNDS[flag]
    low = str(int(bounds.low))
    ctx = COMMANDS[command].make_context(command, [flag, low], resilient_parsing=True)
    (param,) = [p for p in COMMANDS[command].params if flag in getattr(p, "opts", [])]
    assert ctx.params[param.name] == int(low)


def test_every_declared_exception_names_a_real_flag():
    assert set(FLAG_BOUNDS) <= {flag for _, flag in FLAGS}


@pytest.mark.parametrize(
    ("argv", "refused"),
    [
        (["download", "x", "--deadline", "nan"], "--deadline"),
        (["embed", "m", "x", "--out", "o", "--part-rows", "0"], "--part-rows"),
        (
            ["transfer", "fi", "--root", "r", "--model", "m", "--out", "o", "--finetune-epochs", "0"],
            "--finetune-epochs",
        ),
        (["predict", "m", "x", "--workers", "-1"], "--workers"),
        (["collect", "x", "--out", "o", "--seed", "9" * 5000], "--seed"),
        (["download", "x", "--jpeg-quality", "101"], "--jpeg-quality"),
        (["serve", "m", "--port", "70000"], "--port"),
        (["predict", "m", "x", "--batch-size", "1e3"], "--batch-size"),
    ],
)
def test_refusals_name_the_flag_in_one_line(run_cli, argv, refused):
    code, _, err = run_cli(*argv)
    assert code == 1 and err.startswith(f"smileynet: error: {refused} must be ") and err.count("\n") == 1, err


@pytest.mark.parametrize("size", ["2048", "100000", "4"])
def test_train_refuses_an_image_size_no_model_config_can_hold(run_cli, tmp_path, size):
    code, _, err = run_cli("train", "--data", tmp_path, "--out", tmp_path / "run", "--image-size", size)
    assert code == 1 and "image-size must be from 8 to 1024" in err, err
    assert not (tmp_path / "run").exists()


def test_a_command_added_to_a_group_without_the_shared_class_is_checked_too(run_cli):
    extra = typer.Typer(cls=Group)

    @extra.command()
    def wait(seconds: float = typer.Option(1.0, "--seconds")) -> None:
        print(seconds)

    @extra.command(cls=Command)
    def other() -> None:
        """A second command, so that `wait` is a subcommand."""

    group = typer.main.get_command(extra)
    with pytest.raises(UserError, match="--seconds must be a number > 0, got 'nan'"):
        group.main(["wait", "--seconds", "nan"], standalone_mode=False)
    assert group.main(["wait", "--seconds", "2.5"], standalone_mode=False) is None


@given(
    st.text(max_size=40),
    st.sampled_from([int, float]),
    st.sampled_from([POSITIVE, AT_LEAST_ZERO, Bounds(1, True, 100)]),
)
def test_parse_number_returns_a_number_in_bounds_or_one_user_error(text, kind, bounds):
    try:
        number = parse_number(text, kind, "--x", bounds)
    except UserError as err:
        assert str(err).startswith("--x must be ") and "\n" not in str(err)
        return
    assert isinstance(number, kind) and math.isfinite(number)
    assert number >= bounds.low if bounds.inclusive else number > bounds.low
    assert bounds.high is None or number <= bounds.high


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_parse_number_reads_every_positive_int64_back(number):
    assert parse_number(str(number), int, "--x") == number


@given(st.floats(min_value=1e-300, allow_infinity=False, allow_nan=False))
def test_parse_number_reads_every_positive_float_back(number):
    assert parse_number(repr(number), float, "--x") == number


def test_an_optional_numeric_option_is_checked_too():
    extra = typer.Typer(cls=Group)

    @extra.command(cls=Command)
    def wait(seconds: float | None = typer.Option(None, "--seconds")) -> None:
        print(seconds)

    @extra.command(cls=Command)
    def other() -> None:
        """A second command, so that `wait` is a subcommand."""

    group = typer.main.get_command(extra)
    with pytest.raises(UserError, match="--seconds must be a number > 0, got 'inf'"):
        group.main(["wait", "--seconds", "inf"], standalone_mode=False)
