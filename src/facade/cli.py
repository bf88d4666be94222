"""The `facade` command: serve, manage the local store, export the SDL.

    facade serve [--host H] [--port P] [--workers N] [--reload] [--database-url URL]
    facade db migrate [--database-url URL] [--sql]
    facade db downgrade REVISION [--database-url URL]
    facade db revision -m MESSAGE [--empty] [--database-url URL]
    facade db seed [--products N] [--reset] [--database-url URL]
    facade schema export [--output FILE] [--check]
    facade documents register PATH... [--output FILE] [--check]
    facade afosto generate [--check]
    facade afosto openapi [--output FILE]
    facade routes [--write README.md | --check README.md]

Options override FACADE_* settings; the server's workers get them through the same variables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from facade.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


async def _migrate(settings: Settings) -> list[str]:
    from facade.backends.local import create_engine
    from facade.backends.local.migrate import migrate

    engine = create_engine(settings.database_url)
    try:
        return await migrate(engine)
    finally:
        await engine.dispose()


async def _seed(settings: Settings, products: int, reset: bool) -> str:
    from facade.backends.local import create_engine
    from facade.backends.local.migrate import migrate
    from facade.backends.local.seed import is_empty, seed
    from facade.backends.local.tables import metadata

    engine = create_engine(settings.database_url)
    try:
        if reset:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.drop_all)
                await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
                await conn.exec_driver_sql("DROP TABLE IF EXISTS schema_migrations")  # the earlier runner's
        await migrate(engine)
        if not await is_empty(engine):
            return "The store already has data; use --reset to replace it."
        started = time.perf_counter()
        summary = await seed(engine, products=products)
        # Counts only: the summary also holds licence keys and device codes, which are credentials.
        counts = ", ".join(f"{n} {table}" for table, n in summary.counts.items())
        return f"Seeded in {time.perf_counter() - started:.1f}s: {counts}. Demo sign-in: alice / facade-demo."
    finally:
        await engine.dispose()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.database_url:
        os.environ["FACADE_DATABASE_URL"] = args.database_url
    if args.no_seed:
        os.environ["FACADE_SEED_ON_START"] = "false"
    if args.seed_products is not None:
        os.environ["FACADE_SEED_PRODUCTS"] = str(args.seed_products)
    settings = Settings()
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    # Migrate and seed once here, before any worker starts, so workers never race to do it.
    applied = asyncio.run(_migrate(settings))
    if applied:
        print(f"facade: migrated the store to revision {applied[-1]}", file=sys.stderr)
    if settings.seed_on_start:
        message = asyncio.run(_seed(settings, settings.seed_products, reset=False))
        if not message.startswith("The store already"):
            print(f"facade: {message}", file=sys.stderr)
    settings.resolved_jwt_secret()  # create the shared secret file before workers read it
    print(f"facade: GraphiQL at http://{host}:{port}/graphql", file=sys.stderr)
    uvicorn.run(
        "facade.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=None if args.reload else workers,
        reload=args.reload,
        log_level=settings.log_level,
        access_log=False,
        # uvicorn would trust X-Forwarded-For from 127.0.0.1; the app trusts FACADE_TRUSTED_PROXIES.
        proxy_headers=False,
    )
    return 0


def cmd_db_migrate(args: argparse.Namespace) -> int:
    """Upgrade the store to the head revision; with --sql, print that upgrade's SQL for an empty
    store of the URL's dialect instead (nothing is connected to)."""
    settings = _settings(args)
    if args.sql:
        from facade.backends.local.migrate import offline_sql

        sys.stdout.write(offline_sql(settings.database_url))
        return 0
    applied = asyncio.run(_migrate(settings))
    print(f"applied revisions: {', '.join(applied)}" if applied else "the store is up to date")
    return 0


async def _store_step(settings: Settings, step: str, argument: str, empty: bool = False) -> str:
    from facade.backends.local import create_engine
    from facade.backends.local import migrate as migrations

    engine = create_engine(settings.database_url)
    try:
        if step == "downgrade":
            undone = await migrations.downgrade(engine, argument)
            return f"undid revisions: {', '.join(undone)}" if undone else "nothing to undo"
        path = await migrations.new_revision(engine, argument, autogenerate=not empty)
        return f"wrote {path}: review it, then run `facade db migrate`"
    except migrations.MigrationError as exc:
        return f"facade db {step}: {exc}"
    finally:
        await engine.dispose()


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    """Undo revisions down to REVISION ("base" drops every table); data in what is dropped is lost."""
    message = asyncio.run(_store_step(_settings(args), "downgrade", args.revision))
    print(message)
    return 1 if message.startswith("facade db") else 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    """Write the next revision into the package's migrations/versions/ (run it from a checkout):
    the operations that bring a store at the head to tables.py, or an empty one with --empty."""
    message = asyncio.run(_store_step(_settings(args), "revision", args.message, empty=args.empty))
    print(message)
    return 1 if message.startswith("facade db") else 0


def cmd_db_seed(args: argparse.Namespace) -> int:
    message = asyncio.run(_seed(_settings(args), args.products, args.reset))
    print(message)
    return 1 if message.startswith("The store already") else 0


def cmd_schema_export(args: argparse.Namespace) -> int:
    from facade.graph.schema import build_schema

    sdl = build_schema().sdl()
    if args.check:
        current = Path(args.output).read_text(encoding="utf-8") if Path(args.output).exists() else ""
        if current != sdl:
            print(f"{args.output} is out of date: run `facade schema export`", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(sdl, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def cmd_documents_register(args: argparse.Namespace) -> int:
    """Add the operations of .graphql files (or of the folders' .graphql files) to a trusted-documents
    manifest; --check fails instead when the manifest lacks any of them."""
    from facade.persisted import load_manifest, register

    files: list[Path] = []
    for given in args.paths:
        path = Path(given)
        files.extend(sorted(path.glob("*.graphql")) if path.is_dir() else [path])
    if not files:
        print("facade documents register: no .graphql files given", file=sys.stderr)
        return 2
    output = Path(args.output or Settings().trusted_documents_file or "trusted-documents.json")
    current = load_manifest(output) if output.exists() else {}
    merged = register((f.read_text(encoding="utf-8") for f in files), current)
    added = len(merged) - len(current)
    if args.check:
        if added:
            print(f"{output} lacks {added} of the documents: run `facade documents register`", file=sys.stderr)
            return 1
        print(f"{output} has all {len(files)} documents")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(merged, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"registered {len(files)} documents in {output} ({added} new, {len(merged)} in all)")
    return 0


def cmd_afosto_generate(args: argparse.Namespace) -> int:
    """Write the modules generated from the Afosto contract copy (build time, not start-up); --check
    fails instead when a committed one differs."""
    from facade.backends.upstream.afosto.generate import run

    return run(check=args.check)


def cmd_afosto_openapi(args: argparse.Namespace) -> int:
    """Print (or write) the OpenAPI 3 document rebuilt from the Afosto contract copy."""
    from facade.backends.upstream.afosto.openapi import openapi

    text = json.dumps(openapi(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output} ({len(openapi()['paths'])} paths)")
    else:
        sys.stdout.write(text)
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """The FLECS Console and Flow Retail REST APIs over a local store, and the Afosto API emulated
    under /afosto (see facade.sandbox)."""
    import uvicorn

    from facade.sandbox import Faults, FaultSpecError, create_sandbox_app, parse_faults

    overrides = {}
    if args.database_url:
        overrides["database_url"] = args.database_url
    if args.seed_products is not None:
        overrides["seed_products"] = args.seed_products
    settings = Settings(**overrides)
    try:
        faults = Faults(parse_faults(args.faults or ""))
    except FaultSpecError as err:
        print(f"facade sandbox: --faults: {err}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}"
    print(
        f"facade sandbox: FLECS Console at {url}/api/v2, Flow Retail at {url}/v2, Afosto at {url}/afosto",
        file=sys.stderr,
    )
    for rule in faults.rules:
        print(f"facade sandbox: fault {rule.method} {rule.path} = {rule.kind}", file=sys.stderr)
    # One process: the faults and call counts it keeps are per process.
    uvicorn.run(
        create_sandbox_app(settings, faults=faults),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        access_log=False,
    )
    return 0


# The README's coverage section lies between these lines; `facade routes --write` renders it.
README_BEGIN = "<!-- routes: generated by `facade routes --write README.md` from backends/routes.py -->"
README_END = "<!-- /routes -->"


def readme_section(text: str) -> tuple[int, int]:
    """Where the generated coverage section starts and ends in the README's text (the lines
    between the markers); ValueError when the markers are missing."""
    begin = text.index(README_BEGIN) + len(README_BEGIN) + 1
    return begin, text.index(README_END, begin)


def cmd_routes(args: argparse.Namespace) -> int:
    from facade.backends.compose import CLIENTS
    from facade.backends.routes import ROUTES, check, coverage

    check(ROUTES, CLIENTS)
    rendered = coverage(ROUTES)
    target = args.write or args.check
    if target is None:
        sys.stdout.write(rendered)
        return 0
    text = Path(target).read_text(encoding="utf-8")
    begin, end = readme_section(text)
    if args.check:
        if text[begin:end] != rendered:
            print(f"{target} is out of date: run `facade routes --write {target}`", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    Path(target).write_text(text[:begin] + rendered + text[end:], encoding="utf-8")
    print(f"wrote the coverage section of {target}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="facade", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve GraphQL (and GraphiQL) at /graphql")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes (one per core is best)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    serve.add_argument("--database-url", help="SQLAlchemy URL of the local store")
    serve.add_argument("--no-seed", action="store_true", help="do not seed an empty store")
    serve.add_argument("--seed-products", type=int, help="products to seed into an empty store")
    serve.set_defaults(run=cmd_serve)

    db = sub.add_parser("db", help="create, migrate and seed the local store").add_subparsers(
        dest="db_command", required=True
    )
    migrate = db.add_parser("migrate", help="create the tables or bring them up to date (Alembic upgrade head)")
    migrate.add_argument("--database-url")
    migrate.add_argument("--sql", action="store_true", help="print the upgrade's SQL instead of running it")
    migrate.set_defaults(run=cmd_db_migrate)
    downgrade = db.add_parser("downgrade", help="undo revisions down to REVISION (base: drop every table)")
    downgrade.add_argument("revision")
    downgrade.add_argument("--database-url")
    downgrade.set_defaults(run=cmd_db_downgrade)
    revision = db.add_parser("revision", help="write the next revision, from tables.py against a store at the head")
    revision.add_argument("-m", "--message", required=True, help="what the revision changes (also its file name)")
    revision.add_argument("--empty", action="store_true", help="write an empty revision instead of comparing")
    revision.add_argument("--database-url")
    revision.set_defaults(run=cmd_db_revision)
    seed = db.add_parser("seed", help="fill an empty store with demo data")
    seed.add_argument("--database-url")
    seed.add_argument("--products", type=int, default=200, help="how many products (e.g. 100000 for a load test)")
    seed.add_argument("--reset", action="store_true", help="drop everything first")
    seed.set_defaults(run=cmd_db_seed)

    schema = sub.add_parser("schema", help="the GraphQL schema").add_subparsers(dest="schema_command", required=True)
    export = schema.add_parser("export", help="write the SDL")
    export.add_argument("--output", default="schema/schema.graphql", help="file, or - for stdout")
    export.add_argument("--check", action="store_true", help="fail if the file differs from the code")
    export.set_defaults(run=cmd_schema_export)

    documents = sub.add_parser("documents", help="trusted documents").add_subparsers(
        dest="documents_command", required=True
    )
    reg = documents.add_parser("register", help="add .graphql operations to the trusted-documents manifest")
    reg.add_argument("paths", nargs="+", help=".graphql files, or folders of them (e.g. playground/)")
    reg.add_argument("--output", help="the manifest (default: FACADE_TRUSTED_DOCUMENTS_FILE or trusted-documents.json)")
    reg.add_argument("--check", action="store_true", help="fail if the manifest lacks any of the documents")
    reg.set_defaults(run=cmd_documents_register)

    afosto = sub.add_parser("afosto", help="the Afosto API's generated code").add_subparsers(
        dest="afosto_command", required=True
    )
    generate = afosto.add_parser("generate", help="write the operation table, payload readers and types")
    generate.add_argument("--check", action="store_true", help="fail if the committed files differ")
    generate.set_defaults(run=cmd_afosto_generate)
    openapi = afosto.add_parser("openapi", help="the OpenAPI 3 document rebuilt from the contract copy")
    openapi.add_argument("--output", help="write it to this file instead of standard output")
    openapi.set_defaults(run=cmd_afosto_openapi)
    routes = sub.add_parser("routes", help="the upstream routing table, as the README's coverage section")
    given = routes.add_mutually_exclusive_group()
    given.add_argument("--write", metavar="README", help="replace the generated section of this file")
    given.add_argument("--check", metavar="README", help="fail if that section differs from the table")
    routes.set_defaults(run=cmd_routes)

    sandbox = sub.add_parser("sandbox", help="serve the FLECS Console, Flow Retail and Afosto (/afosto) REST APIs")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.add_argument("--database-url", help="SQLAlchemy URL of the local store")
    sandbox.add_argument("--seed-products", type=int, help="products to seed into an empty store")
    sandbox.add_argument(
        "--faults", help="faults to inject, e.g. 'GET /api/v2/products*=status:503x2,POST /v2/device=latency:3000'"
    )
    sandbox.set_defaults(run=cmd_sandbox)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
