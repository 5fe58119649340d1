"""The `xolver` command. Heavy imports (litellm) happen only once a command needs them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

EXIT_USER_ERROR = 2


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="path to a xolver.toml (default: ./xolver.toml if present)")
    parser.add_argument("--model", help="litellm model string for every role, or 'embedded'")
    parser.add_argument("--api-base", dest="api_base", help="base URL of an OpenAI-compatible server")
    parser.add_argument("--agents", "-m", type=int, help="m: solver agents per iteration")
    parser.add_argument("--iterations", "-I", type=int, help="I: maximum iterations")
    parser.add_argument("--exemplars", "-k", type=int, help="k: exemplars retrieved from memory")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", dest="max_tokens", type=int, help="completion tokens per solver call")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--timeout", type=float, help="seconds per model call attempt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xolver", description="Solve problems with a team of model agents.")
    commands = parser.add_subparsers(dest="command", required=True)

    solve = commands.add_parser("solve", help="solve one problem")
    solve.add_argument("problem", help="the problem text, or '-' to read it from standard input")
    solve.add_argument("--kind", choices=["math", "code", "general"], default="math")
    solve.add_argument("--json", action="store_true", help="print the SolveResult as one JSON object")
    _add_run_flags(solve)

    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print the effective configuration")
    show.add_argument("--json", action="store_true")
    _add_run_flags(show)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = ("model", "api_base", "agents", "iterations", "exemplars", "temperature", "max_tokens", "seed")
    values = {name: getattr(args, name) for name in names}
    values["timeout"] = args.timeout
    return values


def _problem_text(args: argparse.Namespace) -> str:
    text = sys.stdin.read() if args.problem == "-" else args.problem
    return text.strip()


def _run_solve(args: argparse.Namespace) -> int:
    from xolver.api import Xolver, as_problem
    from xolver.config import load_config
    from xolver.schema import Judged, PlanReady, TraceEvent, Verified

    problem = as_problem(_problem_text(args), args.kind)
    config = load_config(args.config, **_overrides(args))

    def progress(event: TraceEvent) -> None:
        if isinstance(event, PlanReady):
            print("team: " + ", ".join(role.name for role in event.roles), file=sys.stderr, flush=True)
        elif isinstance(event, Judged):
            j = event.judgement
            verdict = f"{j.score:.2f}" if j.score is not None else j.status
            print(f"  judged {event.role}: {verdict}", file=sys.stderr, flush=True)
        elif isinstance(event, Verified):
            print(f"verified: {event.verification.passed}", file=sys.stderr, flush=True)

    with Xolver(config) as xolver:
        result = xolver.solve(problem, on_event=None if args.json else progress)
    if args.json:
        print(result.model_dump_json())
        return 0
    usage = result.usage
    print(f"answer: {result.answer}")
    print(f"verified: {result.verified} ({result.verification.detail})")
    print(f"team: {', '.join(r.name for r in result.roles)}")
    print(f"iterations: {len(result.iterations)} (stopped: {result.stop_reason})")
    print(
        f"usage: {usage.calls} calls, {usage.prompt_tokens}+{usage.completion_tokens} tokens, "
        f"${usage.cost:.4f}, {result.wall_seconds:.1f}s"
    )
    return 0


def _run_config_show(args: argparse.Namespace) -> int:
    from xolver.config import load_config

    config = load_config(args.config, **_overrides(args))
    if args.json:
        print(config.model_dump_json(indent=2))
    else:
        for name, value in config.model_dump().items():
            print(f"{name} = {json.dumps(value)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from xolver.errors import EmbeddedModelError, ModelError, UserInputError

    try:
        if args.command == "solve":
            return _run_solve(args)
        return _run_config_show(args)
    except (UserInputError, EmbeddedModelError) as exc:
        print(f"xolver: error: {exc}", file=sys.stderr)
    except ModelError as exc:
        print(f"xolver: model error: {exc}", file=sys.stderr)
    except ValueError as exc:  # a Problem that fails validation
        print(f"xolver: error: {str(exc).splitlines()[0]}", file=sys.stderr)
    except KeyboardInterrupt:
        print("xolver: interrupted", file=sys.stderr)
        return 130
    return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
