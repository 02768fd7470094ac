"""The `cdp` command: generate, run, the stages, train, evaluate, explain, unmerge, link, overrides, forget."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from cdp import configure_logging
from cdp.config import ConfigError, load_config
from cdp.constants import REPORTS_DIR, STAGES, STAGE_REPORT, STAGE_TRAIN
from cdp.quality import QualityGateError

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cdp", description="Customer Data Platform engine on Spark + Delta")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write the seeded sample data (eight channels + truth)")
    g.add_argument("--out", default="sample_data", help="output folder (default ./sample_data)")
    g.add_argument("--persons", type=int, default=2000)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--conf", help="optional config whose spark: section is used")

    helps = {"run": "all stages", STAGE_TRAIN: "train the match model on silver data (MLflow)"}
    for name in ("run",) + STAGES + (STAGE_TRAIN,):
        s = sub.add_parser(name, help=helps.get(name, f"only the {name} stage"))
        s.add_argument("--conf", required=True, help="run config (YAML)")
        s.add_argument("--run-id", help="reuse a run id (default: a new one)")
        s.add_argument("--json", action="store_true", help="print the report as JSON")
        if name == "run":
            s.add_argument("--train", action="store_true",
                           help="train the match model after standardize and before resolve")

    e = sub.add_parser("evaluate", help="pairwise and B-cubed scores of gold/interaction_customer against a truth CSV")
    e.add_argument("--conf", required=True)
    e.add_argument("--truth", required=True, help="CSV with source,record_id and an entity column")
    e.add_argument("--entity-column", default="person_id")
    e.add_argument("--source-column", default="source")
    e.add_argument("--record-id-column", default="record_id")
    e.add_argument("--no-mlflow", action="store_true", help="do not log the scores to MLflow")

    x = sub.add_parser("explain", help="what holds a customer together, or the path joining two interactions")
    x.add_argument("--conf", required=True)
    who = x.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-id", help="a customer id from gold/interaction_customer")
    who.add_argument("--between", nargs=2, metavar=("A", "B"), help="two interaction ids (<source>:<record_id>, or interaction:<source>:<record_id>)")
    x.add_argument("--json", action="store_true")
    for name, what in (("unmerge", "cannot-link: keep A and B in different customers from the next run on"),
                       ("link", "must-link: put A and B in one customer from the next run on")):
        o = sub.add_parser(name, help=what)
        o.add_argument("--conf", required=True)
        o.add_argument("a", help="interaction:<interaction_id> or <id_type>:<value> (e.g. email:a@b.com)")
        o.add_argument("b", help="the other end, same forms")
        o.add_argument("--reason", required=True, help="why (kept with the override)")
        o.add_argument("--by", help="who (default: the login name)")

    w = sub.add_parser("overrides", help="list the steward overrides, or withdraw one")
    w.add_argument("--conf", required=True)
    w.add_argument("--withdraw", metavar="OVERRIDE_ID", help="set this override inactive from the next run on")
    w.add_argument("--reason", help="with --withdraw: why (kept in the table's Delta history)")
    w.add_argument("--by", help="with --withdraw: who (default: the login name)")
    w.add_argument("--json", action="store_true")

    f = sub.add_parser("forget", help="erase one person from every table, history included (GDPR / DPDP)")
    f.add_argument("--conf", required=True)
    f.add_argument("--customer-id", help="a customer id from gold/interaction_customer")
    f.add_argument("--id-type", help="with --value: an identifier type (email, phone, ...)")
    f.add_argument("--value", help="with --id-type: the identifier as written (normalised like standardize)")
    f.add_argument("--by", help="who asks (default: the login name)")
    f.add_argument("--reason", help="why (kept in meta/erasure_audit)")
    return p


def _spark(conf, app: str):
    from cdp.spark import build_spark_session

    return build_spark_session(app, conf.spark if conf else None,
                               want_graphframes=bool(conf and conf.resolve.engine == "graphframes"))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"cdp: configuration error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"cdp: {exc}", file=sys.stderr)
        return 2
    except QualityGateError as exc:
        print(f"cdp: {exc}", file=sys.stderr)
        return 3


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "generate":
        from cdp.sample.generator import generate_sample

        conf = load_config(args.conf) if args.conf else None
        spark = _spark(conf, "cdp-generate")
        summary = generate_sample(spark, args.out, persons=args.persons, seed=args.seed)
        print(json.dumps(summary, indent=2, default=str))
        return 0

    conf = load_config(args.conf)
    if args.command == "explain":
        from cdp.identity.explain import explain_between, explain_customer, format_explanation

        spark = _spark(conf, "cdp-explain")
        result = (explain_between(spark, conf, *args.between) if args.between
                  else explain_customer(spark, conf, args.customer_id))
        print(json.dumps(result, indent=2, default=str) if args.json else format_explanation(result))
        return 0
    if args.command in ("unmerge", "link"):
        from cdp.identity.limits import vertex_label
        from cdp.identity.overrides import CANNOT_LINK, MUST_LINK, add_override

        spark = _spark(conf, f"cdp-{args.command}")
        row = add_override(spark, conf, CANNOT_LINK if args.command == "unmerge" else MUST_LINK,
                           args.a, args.b, args.reason, args.by)
        print(f"override {row['override_id']}: {row['kind']} {vertex_label(row['left'])} <-> "
              f"{vertex_label(row['right'])} (by {row['created_by']}); it applies from the next `cdp run`")
        return 0
    if args.command == "overrides":
        from cdp.identity.overrides import list_overrides, withdraw_override

        if args.withdraw and not args.reason:
            raise ConfigError("overrides --withdraw needs --reason (kept in the table's history)")
        spark = _spark(conf, "cdp-overrides")
        if args.withdraw:
            withdraw_override(spark, conf, args.withdraw, args.reason, args.by)
            print(f"override {args.withdraw} withdrawn; it no longer applies from the next `cdp run`")
            return 0
        rows = list_overrides(spark, conf)
        print(json.dumps(rows, indent=2) if args.json else "\n".join(
            f"{r['override_id']} {r['kind']:<11} {'active' if r['active'] == 'True' else 'withdrawn':<9} "
            f"{r['left_ref']} <-> {r['right_ref']}  by {r['created_by']} at {r['created_at']}: {r['reason']}"
            for r in rows) or f"no steward overrides under {conf.root}")
        return 0
    if args.command == "forget":
        from cdp.erasure.forget import ForgetRequest, format_forget, run_forget

        by_value = (args.id_type, args.value) != (None, None)
        if (args.customer_id is not None) == by_value or (by_value and None in (args.id_type, args.value)):
            raise ConfigError("forget takes --customer-id, or --id-type and --value (not both)")
        spark = _spark(conf, "cdp-forget")
        audit = run_forget(spark, conf, ForgetRequest(args.customer_id, args.id_type, args.value, args.by,
                                                      args.reason))
        print(format_forget(audit))
        return 0
    if args.command == "evaluate":
        from cdp.reporting.evaluate import run_evaluate

        spark = _spark(conf, "cdp-evaluate")
        result = run_evaluate(spark, conf, args.truth, entity_column=args.entity_column,
                              source_column=args.source_column, record_id_column=args.record_id_column,
                              largest=conf.report.largest_customers, log_to_mlflow=not args.no_mlflow)
        print(json.dumps(result, indent=2, default=str))
        return 0

    from cdp.pipeline import new_run_id, run_pipeline, stages_with_training
    from cdp.reporting.report import format_report

    spark = _spark(conf, f"cdp-{args.command}")
    if args.command == "run":
        stages = stages_with_training(STAGES) if args.train else STAGES
        run_id = args.run_id  # None: a new run id, or the id of an interrupted run (resumed)
    else:
        stages = (args.command,)
        run_id = args.run_id or new_run_id()
    results = run_pipeline(spark, conf, run_id, stages)
    if "unchanged" in results:
        u = results["unchanged"]
        print(f"run {results['run_id']}: no new input files, and the config and match model are those of run "
              f"{u['published_run_id']} (published {u['published_at']}): no bronze, silver or gold table changed "
              "(meta/ records the check). "
              f"Its report: {conf.root}/{REPORTS_DIR}/run_{u['published_run_id']}.json")
    elif STAGE_REPORT in results:
        report = results[STAGE_REPORT]
        report["stage_seconds"] = results["stage_seconds"]
        print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    else:
        print(json.dumps({k: v for k, v in results.items()}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
