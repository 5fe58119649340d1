"""The `xolver` command. Heavy imports (litellm) happen only once a command needs them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.sandbox.base import ExecResult

EXIT_USER_ERROR = 2


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override settings; each one's `dest` is the name of a `Settings` field."""
    from xolver.profiles import PROFILES
    from xolver.schema import choices

    parser.add_argument("--config", help="path to a xolver.toml (default: ./xolver.toml if present)")
    parser.add_argument("--model", help="litellm model string for every role, or 'embedded'")
    parser.add_argument("--api-base", dest="api_base", help="base URL of an OpenAI-compatible server")
    parser.add_argument("--agents", "-m", type=int, help="m: solver agents per iteration")
    parser.add_argument("--iterations", "-I", type=int, help="I: maximum iterations")
    parser.add_argument("--exemplars", "-k", type=int, help="k: exemplars retrieved from memory")
    parser.add_argument("--retrieval", choices=choices("retrieval"), help="how exemplars are found")
    parser.add_argument(
        "--profile", choices=["auto", *PROFILES],
        help="how candidates are weighed and prompts laid out: general, embedded (SmolLM2-135M's measured settings), "
        "auto (embedded for the embedded model, else general)",
    )  # fmt: skip
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", dest="max_tokens", type=int, help="completion tokens per solver call")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--timeout", type=float, help="seconds per model call attempt")
    parser.add_argument("--solve-deadline", dest="solve_deadline", type=float, help="seconds for one whole solve")
    parser.add_argument("--memory-dir", dest="memory_dir", help="experience memory directory")
    parser.add_argument("--chroma-url", dest="chroma_url", help="a Chroma server holding the experience memory")
    parser.add_argument(
        "--memory-mode", dest="memory", choices=choices("memory"),
        help="off; read-only (a fixed corpus, never written); learn (write what verified solves taught)",
    )  # fmt: skip
    parser.add_argument("--no-memory", dest="memory", action="store_const", const="off", help="memory mode off")
    parser.add_argument("--seed-bank", dest="seed_bank", help="what a new store starts with: default, none, FILE")
    parser.add_argument("--sandbox", choices=choices("sandbox"), help="where agents' code runs")
    parser.add_argument(
        "--no-analogy", dest="analogy", action="store_const", const=False,
        help="no candidate from a retrieved solved program rebound to the problem's numbers",
    )  # fmt: skip


def _add_memory_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="path to a xolver.toml")
    parser.add_argument("--memory-dir", dest="memory_dir", help="embedded store directory")
    parser.add_argument("--chroma-url", dest="chroma_url", help="a Chroma server, e.g. http://127.0.0.1:8000")


def build_parser() -> argparse.ArgumentParser:
    from typing import get_args

    from xolver.schema import ExperienceKind, MethodName, TaskKind, choices

    kinds, methods = list(get_args(TaskKind)), list(get_args(MethodName))
    parser = argparse.ArgumentParser(prog="xolver", description="Solve problems with a team of model agents.")
    commands = parser.add_subparsers(dest="command", required=True)

    solve = commands.add_parser("solve", help="solve one problem")
    solve.add_argument("problem", help="the problem text, or '-' to read it from standard input")
    solve.add_argument("--kind", choices=kinds, default="math")
    solve.add_argument("--json", action="store_true", help="print the SolveResult as one JSON object")
    solve.add_argument("--save", metavar="FILE", help="append the whole solve to FILE (for `xolver view` and `replay`)")
    _add_run_flags(solve)

    chat = commands.add_parser("chat", help="talk to the team in the terminal (reads plain lines when piped)")
    _add_run_flags(chat)

    memory = commands.add_parser("memory", help="the experience memory")
    memory_commands = memory.add_subparsers(dest="memory_command", required=True)
    m_import = memory_commands.add_parser(
        "import", help="add experiences, or solved problems (problem/question, solution, answer), from a JSONL file"
    )
    m_import.add_argument("file")
    m_export = memory_commands.add_parser("export", help="write every experience to a JSONL file")
    m_export.add_argument("file")
    m_search = memory_commands.add_parser("search", help="retrieve experiences like the text")
    m_search.add_argument("text")
    m_search.add_argument("--k", type=int, default=5)
    m_search.add_argument("--kind", action="append", choices=list(get_args(ExperienceKind)))
    m_search.add_argument("--task-kind", choices=kinds)
    m_search.add_argument(
        "--untrusted", "--unverified", dest="untrusted", action="store_true",
        help="include what the team wrote but did not verify",
    )  # fmt: skip
    m_search.add_argument("--json", action="store_true")
    m_stats = memory_commands.add_parser("stats", help="counts by kind, source and trust")
    m_stats.add_argument("--json", action="store_true")
    m_prune = memory_commands.add_parser("prune", help="remove experiences that never helped, and near-duplicates")
    m_prune.add_argument("--min-uses", type=int, default=3)
    m_prune.add_argument(
        "--min-confidence", type=float, default=0.0,
        help="also remove the team's own records whose evidence scored below this (0-1)",
    )  # fmt: skip
    m_prune.add_argument("--dry-run", action="store_true")
    m_prune.add_argument("--json", action="store_true")
    for sub in (m_import, m_export, m_search, m_stats, m_prune):
        _add_memory_flags(sub)

    serve = commands.add_parser("serve", help="serve a local model (OpenAI-compatible) and print how to use it")
    serve.add_argument("--gguf", help="a GGUF file for llama.cpp (default: the embedded SmolLM2)")
    serve.add_argument("--engine", choices=["auto", "llama.cpp", "vllm"], default="auto")
    serve.add_argument("--hf-model", dest="hf_model", help="a model for vLLM (needs vllm and a GPU)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--threads", type=int, help="CPU threads for llama.cpp")
    serve.add_argument("--ctx", type=int, default=4096, help="context window for llama.cpp")

    team_server = commands.add_parser(
        "serve-team", help="serve the team as an OpenAI-compatible model (openai SDK, litellm, Open WebUI, ...)"
    )
    team_server.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    team_server.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    team_server.add_argument("--api-key", dest="server_key", help="key clients must send ($XOLVER_SERVE_API_KEY)")
    team_server.add_argument("--name", default="xolver", help="the model name clients ask for")
    team_server.add_argument("--kind", choices=kinds, default="math", help="kind of problem unless a request says")
    _add_run_flags(team_server)

    bench = commands.add_parser("bench", help="batch runs over a problem set")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True)
    b_run = bench_commands.add_parser("run", help="solve a problem set with one method; resumable with the same --out")
    b_run.add_argument(
        "--dataset", required=True,
        help="a JSONL problem file, or a built-in set: humaneval, aime24, aime25, math500, gsm8k",
    )  # fmt: skip
    b_run.add_argument("--out", required=True, help="results JSONL; finished ids in it are skipped")
    b_run.add_argument("--method", choices=methods, default="xolver")
    b_run.add_argument("--limit", type=int, help="the first N problems only")
    b_run.add_argument("--concurrency", type=int, default=8, help="problems in flight at once")
    b_run.add_argument("--executor", choices=["local", "ray"], default="local", help="run here, or over Ray")
    b_run.add_argument("--samples", type=int, help="k samples of the self-consistency baseline (sc)")
    b_run.add_argument("--budget", type=int, help="tokens per problem: no new round or sample starts past it")
    b_run.add_argument(
        "--memory", dest="memory_dir",
        help="continue this existing experience store (default: a new one beside the results, <out>.memory)",
    )  # fmt: skip
    b_run.add_argument(
        "--ordered", action="store_true",
        help="one problem at a time in the set's order, each after the earlier ones wrote their experience",
    )  # fmt: skip
    b_run.add_argument(
        "--oracle", action="store_true",
        help="an oracle memory (the learning report's upper bound): with --memory-mode read-only and --ordered, "
        "each solved problem's reference solution is written to the run's store for the problems after it",
    )  # fmt: skip
    b_run.add_argument("--address", help="a Ray cluster to join (default: start a local Ray instance)")
    b_run.add_argument("--workers", type=int, default=2, help="Ray actors, each with its own model client")
    _add_run_flags(b_run)
    b_report = bench_commands.add_parser("report", help="report.md and plots from result files")
    b_report.add_argument("results", nargs="+", help="results JSONL files of `xolver bench run`")
    b_report.add_argument("--out", required=True, help="directory for report.md, summary.json and the plots")

    sandbox = commands.add_parser("sandbox", help="the code sandbox")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    s_run = sandbox_commands.add_parser("run", help="run a Python file in the sandbox")
    s_run.add_argument("file")
    s_run.add_argument("--stdin", help="a file to feed the program on standard input")
    s_run.add_argument("--backend", choices=[c for c in choices("sandbox") if c != "none"], default="auto")
    s_run.add_argument("--timeout", type=float, default=10.0)
    s_run.add_argument("--json", action="store_true", help="print the ExecResult as JSON")
    sandbox_commands.add_parser("doctor", help="which backends work here, and why not")
    sandbox_commands.add_parser("build", help="build the sandbox image (offline from Debian packages)")

    replay = commands.add_parser(
        "replay", help="run recorded solves again on today's code against their recorded replies (no model)"
    )
    replay.add_argument("record", help="a results file of `xolver bench run`, or solves saved with --save or /save")
    replay.add_argument("--id", action="append", dest="ids", help="only this problem (repeatable)")
    replay.add_argument("--strict", action="store_true", help="a changed prompt fails, not the nearest reply")
    replay.add_argument("--save", metavar="FILE", help="write the replayed solves to FILE")
    replay.add_argument("--json", action="store_true", help="one JSON object per replayed problem")
    replay.add_argument("--concurrency", type=int, default=4)

    view = commands.add_parser("view", help="look at runs and solves in the browser")
    view.add_argument("paths", nargs="+", help="results files of `xolver bench run`, or saved solves")
    view.add_argument("--out", help="write the pages as static files to this directory instead of serving them")
    view.add_argument("--host", default="127.0.0.1")
    view.add_argument("--port", type=int, default=8765, help="0 picks a free port")

    calibrate = commands.add_parser(
        "calibrate", help="fit the cheapest verification rule that reaches a target precision on graded runs"
    )
    calibrate.add_argument("results", nargs="+", help="graded results files of `xolver bench run`")
    calibrate.add_argument("--target", type=float, default=0.95, help="the precision to reach (default 0.95)")
    calibrate.add_argument("--min-verified", type=int, default=20,
                           help="verified solves a rule needs behind its precision (default 20)")  # fmt: skip
    calibrate.add_argument("--write", default="xolver.toml", help="the config file to write the rules to")
    calibrate.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")

    config = commands.add_parser("config", help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print the effective configuration")
    show.add_argument("--json", action="store_true")
    _add_run_flags(show)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line sets: every flag named after a `Settings` field, when given."""
    from xolver.schema import Settings

    return {name: value for name, value in vars(args).items() if name in Settings.model_fields and value is not None}


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
    if args.save:
        from xolver.bench.records import save_solves

        save_solves(args.save, [result])
        print(f"saved to {args.save}", file=sys.stderr)
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


def _run_memory(args: argparse.Namespace) -> int:
    import asyncio

    from xolver.config import load_config
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.runtime import Runtime

    config = load_config(args.config, memory_dir=args.memory_dir, chroma_url=args.chroma_url, memory=True)

    async def command(runtime: Runtime) -> int:
        async with runtime:
            store = runtime.store
            assert isinstance(store, ChromaExperienceStore)
            return await _memory_command(args, store)

    return asyncio.run(command(Runtime(config.changed(sandbox="none"))))


async def _memory_command(args: argparse.Namespace, store: ChromaExperienceStore) -> int:
    command = args.memory_command
    if command == "import":
        from collections import Counter

        from xolver.memory.jsonl import read_corpus

        experiences, bad = read_corpus(args.file)
        for line in bad:
            print(f"xolver: {args.file}:{line.line}: skipped: {line.error}", file=sys.stderr)
        await store.add(experiences)
        sources = Counter(f"{e.source}, {'trusted' if e.trusted else 'untrusted'}" for e in experiences)
        origin = "; ".join(f"{n} {what}" for what, n in sorted(sources.items()))
        print(f"imported {len(experiences)} experiences ({origin or 'none'}), skipped {len(bad)} bad lines")
        return EXIT_USER_ERROR if bad and not experiences else 0
    if command == "export":
        from xolver.memory.jsonl import write_experiences

        count = write_experiences(args.file, await store.all())
        print(f"exported {count} experiences to {args.file}")
        return 0
    if command == "search":
        hits = await store.search(
            args.text, k=args.k, task_kind=args.task_kind, trusted_only=not args.untrusted, kinds=args.kind
        )
        rows = [
            {**_hit_row(h.experience), "score": h.score, "similarity": h.similarity,
             "related": [_hit_row(e) for e in h.related]}
            for h in hits
        ]  # fmt: skip
        if args.json:
            print(json.dumps(rows))
        for row in [] if args.json else rows:
            similarity = f"{row['similarity']:.2f}" if row["similarity"] is not None else "-"
            print(f"{_hit_line(row)} sim={similarity}\n  problem: {row['problem'][:120]}\n  {row['content'][:200]}")
            for related in row["related"]:
                print(f"  + {_hit_line(related)}: {related['content'][:160]}")
        return 0
    if command == "stats":
        stats = await store.stats()
        print(json.dumps(stats) if args.json else "\n".join(f"{k}: {v}" for k, v in stats.items()))
        return 0
    removed = await store.prune(min_uses=args.min_uses, min_confidence=args.min_confidence, dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"removed": removed, "dry_run": args.dry_run}))
    else:
        print(f"{'would remove' if args.dry_run else 'removed'} {len(removed)} experiences")
    return 0


def _hit_row(experience: Any) -> dict[str, Any]:
    """What `memory search` shows of a record: where it came from and how far it is trusted."""
    e = experience
    return {
        "id": e.id, "kind": e.kind, "problem": e.problem, "content": e.content, "applies": e.applies,
        "source": e.source, "verified": e.verified, "trusted": e.trusted, "confidence": e.confidence,
        "evidence": e.evidence,
    }  # fmt: skip


def _hit_line(row: dict[str, Any]) -> str:
    trust = "trusted" if row["trusted"] else "untrusted"
    return f"[{row['kind']}] {row['id']} source={row['source']} {trust} confidence={row['confidence']:.2f}"


def _stop_on_signals() -> None:
    """SIGTERM and SIGINT stop a server the way Ctrl-C does, so what it opened is closed."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started in the background, where SIGINT starts ignored


def _run_serve_team(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import os

    from xolver.api import Xolver
    from xolver.config import load_config
    from xolver.llm.litellm_model import import_litellm
    from xolver.server import TeamServer, bind, serve

    config = load_config(args.config, **_overrides(args))
    api_key = args.server_key or os.environ.get("XOLVER_SERVE_API_KEY") or None
    listener = bind(args.host, args.port)
    host, port = listener.getsockname()[:2]
    base_url = f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"

    import_litellm()  # now, not in the first request (seconds)

    async def run() -> None:
        async with Xolver(config) as team:
            print(f"serving the team ({config.model}, m={config.agents}, I={config.iterations}) as model "
                  f"{args.name!r} at {base_url}" + (" (API key required)" if api_key else ""), flush=True)  # fmt: skip
            if api_key is None and host not in ("127.0.0.1", "::1", "localhost"):
                print(f"xolver: warning: listening on {host} without an API key", file=sys.stderr, flush=True)
            key = " -H 'Authorization: Bearer <key>'" if api_key else ""
            print(f"try: curl {base_url}/chat/completions{key} -H 'Content-Type: application/json' "
                  f"""-d '{{"model": "{args.name}", "messages": [{{"role": "user", "content": "What is 12*7?"}}]}}'""",
                  file=sys.stderr, flush=True)  # fmt: skip
            await serve(TeamServer(team, name=args.name, kind=args.kind, api_key=api_key), listener)

    _stop_on_signals()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    print("stopped", file=sys.stderr, flush=True)
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    import importlib.util
    import shutil
    from pathlib import Path

    from xolver.errors import UserInputError
    from xolver.llm.embedded import LlamaServer, ModelServer, VllmServer, find_gguf

    gpu = shutil.which("nvidia-smi") is not None
    vllm_ready = importlib.util.find_spec("vllm") is not None and gpu
    if args.engine == "vllm" or (args.engine == "auto" and args.hf_model and vllm_ready):
        if not args.hf_model:
            raise UserInputError("--engine vllm needs --hf-model")
        if not vllm_ready:
            raise UserInputError("vLLM needs the vllm package and an NVIDIA GPU; use --gguf with llama.cpp")
        server: ModelServer = VllmServer(args.hf_model, host=args.host, port=args.port or None)
    else:
        gguf = Path(args.gguf) if args.gguf else find_gguf()
        if not gguf.is_file():
            raise UserInputError(f"no GGUF file at {gguf}")
        alias = gguf.stem.lower() if args.gguf else "smollm2-135m-instruct"
        server = LlamaServer(
            gguf, threads=args.threads, ctx=args.ctx, alias=alias, host=args.host, port=args.port or None
        )

    _stop_on_signals()
    try:
        print(f"starting {type(server).__name__} ...", file=sys.stderr, flush=True)
        server.start(timeout=600)
        print(f"model: {server.litellm_model}\napi_base: {server.api_base}", flush=True)
        print(f'try: xolver solve --model {server.litellm_model} --api-base {server.api_base} "What is 12*7?"',
              file=sys.stderr, flush=True)  # fmt: skip
        code = server.wait()
        print(f"xolver: the server exited ({code})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
        print("stopped", file=sys.stderr, flush=True)


def _run_chat(args: argparse.Namespace) -> int:
    import asyncio

    from xolver.api import Xolver
    from xolver.chat import run_chat
    from xolver.config import load_config

    async def chat() -> int:
        async with Xolver(load_config(args.config, **_overrides(args))) as xolver:
            return await run_chat(xolver)

    return asyncio.run(chat())


def _run_bench(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from xolver.bench import load_problems
    from xolver.bench.batch import RunSpec, run_batch
    from xolver.bench.progress import RunProgress
    from xolver.bench.runner import finished_ids
    from xolver.config import load_config
    from xolver.errors import UserInputError

    if args.bench_command == "report":
        from xolver.bench.report import load_records, write_report

        records, bad = load_records(args.results)
        for path, line in bad:
            print(f"xolver: {path}:{line.line}: skipped: {line.error}", file=sys.stderr)
        if not records:
            raise UserInputError("no records in " + ", ".join(args.results))
        print(f"wrote {write_report(records, args.out)} ({len(records)} records)")
        return 0

    problems, bad = load_problems(args.dataset)
    for record in bad:
        print(f"xolver: {args.dataset}:{record.line}: skipped: {record.error}", file=sys.stderr)
    if args.limit is not None:
        problems = problems[: args.limit]
    if args.concurrency < 1 or args.workers < 1:
        raise UserInputError("--concurrency and --workers must be at least 1")
    if args.memory_dir and not (Path(args.memory_dir).is_dir() and any(Path(args.memory_dir).iterdir())):
        # a mistyped path would otherwise open a new, seeded store: a run "continuing" memory it never had
        raise UserInputError(f"--memory {args.memory_dir}: no experience store there; leave --memory out for a new one")
    spec = RunSpec(load_config(args.config, **_overrides(args)), method=args.method, dataset=Path(args.dataset).stem,
                   oracle=args.oracle)  # fmt: skip
    resumed = len(finished_ids(Path(args.out)) & {p.id for p in problems})
    with RunProgress(len(problems), resumed=resumed, label=f"{args.method} on {spec.dataset}") as progress:
        written = asyncio.run(
            run_batch(spec, problems, args.out, concurrency=args.concurrency, ordered=args.ordered,
                      executor=args.executor, workers=args.workers, address=args.address, on_record=progress.update)
        )  # fmt: skip
    print(f"{len(written)} problems solved now, {resumed} already in {args.out} | {progress.stats()}")
    return 0


def _run_calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xolver.bench.calibration import candidates, fit, graded, task_of, write_rules
    from xolver.bench.report import load_records
    from xolver.errors import UserInputError

    records, bad = load_records(args.results)
    for path, line in bad:
        print(f"xolver: {path}:{line.line}: skipped: {line.error}", file=sys.stderr)
    rows = graded(records)
    if not rows:
        raise UserInputError("no graded solve with evidence in " + ", ".join(args.results))
    fitted = []
    for task in sorted({task_of(r) for r in rows}):
        rules = sorted(candidates(rows, task), key=lambda r: (-(r.measured.precision or 0), -(r.measured.recall or 0)))
        print(f"{task}: {sum(task_of(r) == task for r in rows)} graded solves; rules by precision (n verified):")
        for rule in rules[:8]:
            m = rule.measured
            print(f"  {' + '.join(rule.requires):<60} precision {_share(m.precision)} (n={m.verified}) "
                  f"recall {_share(m.recall)}")  # fmt: skip
        best = fit(rows, task, target=args.target, min_verified=args.min_verified)
        if best is None:
            print(f"  no rule reaches precision {args.target} on {args.min_verified} or more verified solves")
        else:
            print(f"  fitted: {' + '.join(best.requires)} (precision {_share(best.measured.precision)}, "
                  f"n={best.measured.verified})")  # fmt: skip
            fitted.append(best)
    if fitted and not args.dry_run:
        write_rules(Path(args.write), fitted)
        print(f"wrote verify_requires and verify_precision to {args.write}")
    return 0


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _run_sandbox(args: argparse.Namespace) -> int:
    import asyncio
    import subprocess
    from pathlib import Path

    from xolver.config import load_config
    from xolver.errors import UserInputError
    from xolver.runtime import Runtime
    from xolver.sandbox.select import doctor, guarantees

    if args.sandbox_command == "doctor":
        for backend, problem in doctor().items():
            print(f"{backend}: {'ok (' + guarantees(backend) + ')' if problem is None else 'unavailable: ' + problem}")
        return 0
    if args.sandbox_command == "build":
        script = Path(__file__).resolve().parents[1] / "sandbox" / "build.sh"
        if not script.is_file():
            raise UserInputError(f"sandbox/build.sh not found beside the package ({script}): build from a checkout")
        return subprocess.run(["bash", str(script)], check=False).returncode
    try:
        code = Path(args.file).read_text()
        stdin = Path(args.stdin).read_text() if args.stdin else None
    except OSError as exc:
        raise UserInputError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    config = load_config(memory=False, sandbox=args.backend, sandbox_timeout=args.timeout)

    async def run() -> ExecResult:
        async with Runtime(config) as runtime:
            assert runtime.sandbox is not None
            result = await runtime.sandbox.run(code, stdin=stdin, timeout=args.timeout)
            print(f"sandbox: {result.backend}", file=sys.stderr)
            return result

    result = asyncio.run(run())
    if args.json:
        print(result.model_dump_json())
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.timed_out:
            print(f"xolver: timed out after {args.timeout:g}s", file=sys.stderr)
    return 0 if result.ok else 1


def _run_replay(args: argparse.Namespace) -> int:
    """Exit 0 when every replay is identical to its recording, 1 when anything changed."""
    import asyncio

    from xolver.bench.records import load_run, save_solves
    from xolver.bench.replay import describe, replay_records, summarize
    from xolver.errors import UserInputError

    run = load_run(args.record)
    for path, line in run.bad:
        print(f"xolver: {path}:{line.line}: skipped: {line.error}", file=sys.stderr)
    records = [r for r in run.records if not args.ids or r.id in args.ids]
    if not records:
        raise UserInputError(f"no recorded problem to replay in {args.record}")
    replays = asyncio.run(replay_records(records, strict=args.strict, concurrency=max(1, args.concurrency)))
    for replayed in replays:
        print(replayed.model_dump_json() if args.json else describe(replayed))
    if args.save:
        save_solves(args.save, [r.result for r in replays if r.result is not None], append=False)
    print(summarize(replays), file=sys.stderr)
    return 0 if all(r.identical for r in replays) else 1


def _run_view(args: argparse.Namespace) -> int:
    from xolver.view import serve, write_site

    if args.out:
        print(f"wrote {write_site(args.paths, args.out)}")
        return 0
    return serve(args.paths, host=args.host, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    # litellm leaves a coroutine unawaited when a connection is refused; the user gets our one line instead
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    args = build_parser().parse_args(argv)
    from xolver.errors import EmbeddedModelError, ModelError, UserInputError

    try:
        if args.command == "solve":
            return _run_solve(args)
        if args.command == "memory":
            return _run_memory(args)
        if args.command == "sandbox":
            return _run_sandbox(args)
        if args.command == "bench":
            return _run_bench(args)
        if args.command == "chat":
            return _run_chat(args)
        if args.command == "serve":
            return _run_serve(args)
        if args.command == "replay":
            return _run_replay(args)
        if args.command == "view":
            return _run_view(args)


        if args.command == "serve-team":
            return _run_serve_team(args)
        if args.command == "calibrate":
            return _run_calibrate(args)
        return _run_config_show(args)
    except (UserInputError, EmbeddedModelError) as exc:
        print(f"xolver: error: {exc}", file=sys.stderr)
    except ModelError as exc:
        print(f"xolver: model error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("xolver: interrupted", file=sys.stderr)
        return 130
    return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
