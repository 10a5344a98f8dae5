"""The Kibana objects generated from fields.yml: one visualization per numeric field, the
documented saved-object shapes, stable ids, a dashboard whose every panel and control
resolves, and generation that fails (naming the field) when fields.yml drifts."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat.es.fields import NUMERIC, leaves, load_fields, parse_fields
from sorabeat.kibana import versions
from sorabeat.kibana.assets import build_assets
from sorabeat.kibana.dashboard import DASHBOARD_ID, TITLE
from sorabeat.kibana.data_view import data_view_id
from sorabeat.kibana.field_charts import CatalogError, field_visualization_id
from tests.kibana_shapes import untagged, validate

TARGET = versions.parse(versions.TARGET_VERSION)
FIELDS_TEXT = resources.files("sorabeat").joinpath("fields.yml").read_text("utf-8")


@pytest.fixture(scope="module")
def assets() -> Any:
    return build_assets()


def plotted_fields(lens: dict[str, Any]) -> list[str]:
    """The fields a Lens object plots (visible columns, through their helper columns)."""
    out = []
    for layer in lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values():
        columns = layer["columns"]
        vis = lens["attributes"]["state"]["visualization"]
        shown = (
            [a for lay in vis["layers"] for a in lay["accessors"]]
            if "layers" in vis
            else [c["columnId"] for c in vis["columns"] if not columns[c["columnId"]]["isBucketed"]]
        )
        for column_id in shown:
            column = columns[column_id]
            if "sourceField" in column:
                out.append(column["sourceField"])
            if column["operationType"] == "counter_rate":
                out.append(columns[column["references"][0]]["sourceField"])
            if column["operationType"] == "formula":
                math = columns[column["references"][0]]
                out += [columns[ref]["sourceField"] for ref in math["references"]]
    return out


def numeric_paths() -> set[str]:
    return {path for path, f in leaves(load_fields()) if f.type in NUMERIC}


def test_every_numeric_field_has_exactly_one_visualization(assets: Any) -> None:
    paths = numeric_paths()
    assert len(paths) > 300  # the real catalog, not an empty one
    assert set(assets.field_visualizations) == paths
    lenses = [o for o in assets.objects() if o["type"] == "lens"]
    for path in paths:
        alone = [o for o in lenses if plotted_fields(o) == [path]]
        assert len(alone) == 1, (path, [o["attributes"]["title"] for o in alone])
        assert alone[0]["id"] == field_visualization_id(path)


def test_counters_are_rates_gauges_peaks_bytes_are_bytes(assets: Any) -> None:
    fields = dict(leaves(load_fields()))
    for path, lens in assets.field_visualizations.items():
        (layer,) = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()
        shown = layer["columns"][
            lens["attributes"]["state"]["visualization"]["layers"][0]["accessors"][0]
        ]
        f = fields[path]
        expected = "counter_rate" if f.metric_type == "counter" else "max"
        assert shown["operationType"] == expected, path
        assert (shown["params"]["format"]["id"] == "bytes") == (f.format == "bytes"), path
        split = next(c for c in layer["columns"].values() if c["operationType"] == "terms")
        wanted = (
            "sora.connections.channel_client_id"
            if path.startswith("sora.connections.")
            else "service.address"
        )
        assert split["sourceField"] == wanted, path
        assert f.description in lens["attributes"]["description"]
        assert path in lens["attributes"]["description"]
        title = lens["attributes"]["title"]
        assert title.startswith(("Sora: ", "Sorabeat: ")), title
        assert title.endswith("per connection" if wanted != "service.address" else "per node")


def test_objects_validate_against_the_documented_shapes(assets: Any) -> None:
    assert validate(assets.objects(), TARGET) == []


def test_every_visualization_references_the_data_view(assets: Any) -> None:
    view_id = assets.data_view["id"]
    assert view_id == data_view_id("sorabeat-*")
    assert assets.data_view["attributes"]["title"] == "sorabeat-*"
    assert assets.data_view["attributes"]["timeFieldName"] == "@timestamp"
    for obj in assets.objects():
        if obj["type"] == "lens":
            targets = {(r["type"], r["id"]) for r in obj["references"] if r["type"] != "tag"}
            assert targets == {("index-pattern", view_id)}, obj["id"]


def test_dashboard_panels_and_controls_resolve(assets: Any) -> None:
    dashboard = assets.dashboard
    assert dashboard["id"] == DASHBOARD_ID
    assert dashboard["attributes"]["title"] == TITLE
    present = {(o["type"], o["id"]) for o in assets.objects()}
    for ref in dashboard["references"]:
        assert (ref["type"], ref["id"]) in present, ref
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    lens_refs = {r["name"]: r["id"] for r in dashboard["references"] if r["type"] == "lens"}
    assert len(panels) == len(lens_refs) == 17
    for panel in panels:
        assert f"{panel['panelIndex']}:{panel['panelRefName']}" in lens_refs
    controls = json.loads(dashboard["attributes"]["controlGroupInput"]["panelsJSON"])
    assert sorted(c["explicitInput"]["fieldName"] for c in controls.values()) == [
        "host.name",
        "service.address",
    ]
    for cid in controls:
        assert f"controlGroup_{cid}:optionsListDataView" in {
            r["name"] for r in dashboard["references"] if r["id"] == assets.data_view["id"]
        }


def test_dashboard_covers_what_an_operator_needs(assets: Any) -> None:
    by_id = {o["id"]: o for o in assets.objects()}
    refs = [r for r in assets.dashboard["references"] if r["type"] == "lens"]
    plotted = {f for r in refs for f in plotted_fields(by_id[r["id"]])}
    for needed in (
        "sora.stats.total_ongoing_connections",
        "sora.stats.total_session_created",
        "sora.stats.total_session_destroyed",
        "sora.stats.total_successful_connections",
        "sora.stats.total_failed_connections",
        "sora.stats.total_failed_auth_webhook",
        "sora.stats.total_failed_session_webhook",
        "sora.stats.total_failed_event_webhook",
        "sora.stats.total_failed_stats_webhook",
        "sora.connections.rtp.total_sent_byte_size",
        "sora.connections.rtp.total_received_byte_size",
        "sora.stats.total_sent_srtp_byte_size",
        "sora.stats.total_received_sctp_byte_size",
        "sora.stats.cluster_relay.total_sent_byte_size",
        "sora.stats.erlang_vm.statistics.run_queue_lengths_imbalance",
        "sora.stats.erlang_vm.statistics.active_tasks_all_max",
        "sora.stats.erlang_vm.statistics.active_tasks_all_min",
        "sora.stats.erlang_vm.statistics.active_tasks_all_imbalance",
        # from the rates and the channels metricset
        "sora.channels.connections",
        "sora.channels.rates.received_bits_per_second",
        "sora.channels.rates.sent_bits_per_second",
        "sora.channels.rates.received_nacks_per_second",
        "sora.channels.rates.sent_plis_per_second",
        "sora.channels.max.received_nacks_per_second",
        "sora.channels.max.unstable_level",
    ):
        assert needed in plotted, needed


def test_ids_are_stable_and_unique(assets: Any) -> None:
    again = build_assets()
    assert again.ndjson() == assets.ndjson()
    ids = [o["id"] for o in assets.objects()]
    assert len(ids) == len(set(ids))
    titles = [o["attributes"].get("title", o["attributes"].get("name")) for o in assets.objects()]
    assert len(titles) == len(set(titles))
    # ids name what they are: the same field gives the same id whatever else changes
    other = build_assets("metrics-sora-*")
    assert other.field_visualizations.keys() == assets.field_visualizations.keys()
    for path, lens in other.field_visualizations.items():
        assert lens["id"] == assets.field_visualizations[path]["id"]
        assert lens["references"][0]["id"] == data_view_id("metrics-sora-*")
    assert other.data_view["id"] != assets.data_view["id"]


def test_ndjson_lines_parse_and_data_view_comes_first(assets: Any) -> None:
    lines = assets.ndjson().split(b"\n")
    assert lines[-1] == b""
    parsed = [orjson.loads(line) for line in lines[:-1]]
    assert parsed == assets.objects()
    assert parsed[0]["type"] == "index-pattern"
    assert parsed[-1]["type"] == "dashboard"


def test_data_view_formats_byte_fields(assets: Any) -> None:
    formats = json.loads(assets.data_view["attributes"]["fieldFormatMap"])
    byte_fields = {p for p, f in leaves(load_fields()) if f.format == "bytes"}
    assert set(formats) == byte_fields
    assert all(v == {"id": "bytes"} for v in formats.values())


def test_objects_claim_no_newer_version_than_the_minimum() -> None:
    for obj in build_assets().objects():
        for key in ("coreMigrationVersion", "typeMigrationVersion"):
            assert versions.parse(obj[key]) <= versions.MINIMUM
    panels = json.loads(build_assets().dashboard["attributes"]["panelsJSON"])
    assert {p["version"] for p in panels} == {versions.show(versions.MINIMUM)}


# ------------------------------------------------------------- drift in fields.yml


def _edit_fields(edit: Any) -> list[Any]:
    data = yaml.safe_load(FIELDS_TEXT)
    edit(data)
    return parse_fields(data)


def _stats(data: list[Any]) -> dict[str, Any]:
    """The sora.stats group of a parsed fields.yml."""
    sora = next(s for s in data if s["key"] == "sora")
    group: dict[str, Any] = next(f for f in sora["fields"][0]["fields"] if f["name"] == "stats")
    return group


def test_a_field_the_dashboard_needs_missing_fails_naming_it() -> None:
    def drop(data: list[Any]) -> None:
        stats = _stats(data)
        stats["fields"] = [f for f in stats["fields"] if f["name"] != "total_failed_stats_webhook"]

    with pytest.raises(CatalogError, match=r"sora\.stats\.total_failed_stats_webhook"):
        build_assets(sets=_edit_fields(drop))


def test_a_field_retyped_fails_naming_it() -> None:
    def retype(data: list[Any]) -> None:
        for f in _stats(data)["fields"]:
            if f["name"] == "total_ongoing_connections":
                f["metric_type"] = "counter"

    with pytest.raises(CatalogError, match="total_ongoing_connections is a counter"):
        build_assets(sets=_edit_fields(retype))


def test_a_new_numeric_field_gets_its_visualization() -> None:
    def add(data: list[Any]) -> None:
        _stats(data)["fields"].append(
            {
                "name": "total_new_thing",
                "type": "long",
                "description": "A thing Sora 2027 counts.",
                "metric_type": "counter",
            }
        )

    generated = build_assets(sets=_edit_fields(add))
    lens = generated.field_visualizations["sora.stats.total_new_thing"]
    assert lens["attributes"]["title"] == "Sora: new thing/s per node"
    assert validate(generated.objects(), TARGET) == []


# -------------------------------------------------------- the validator can fail


def _on_dashboard(objects: list[Any]) -> Any:
    first = next(r for r in objects[-1]["references"] if r["type"] == "lens")
    return next(o for o in objects if o["id"] == first["id"])


def _pop_last(references: list[Any], kind: str) -> None:
    """Remove the last reference to a ``kind`` object (the tag's stays)."""
    references.remove([r for r in references if r["type"] == kind][-1])


def _broken(assets: Any, mutate: Any) -> list[str]:
    objects = copy.deepcopy(assets.objects())
    mutate(objects)
    return validate(objects, TARGET)


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda o: _pop_last(o[1]["references"], "index-pattern"), "no reference to a data view"),
        (
            lambda o: o[-1]["attributes"].__setitem__("panelsJSON", "[{"),
            "panelsJSON: does not parse",
        ),
        (lambda o: o[1].__setitem__("typeMigrationVersion", "8.16.0"), "newer than the target"),
        (lambda o: o[-1]["references"].pop(0), "has no reference"),
        (lambda o: o.pop(o.index(_on_dashboard(o))), "not in the file"),
        (lambda o: o.append(copy.deepcopy(o[3])), "share a type and id"),
        (lambda o: o[0]["attributes"].pop("timeFieldName"), "timeFieldName must be str"),
        (lambda o: _pop_last(o[-1]["references"], "index-pattern"), "no data view reference"),
    ],
)
def test_the_validator_catches_broken_objects(assets: Any, mutation: Any, expected: str) -> None:
    problems = _broken(assets, mutation)
    assert any(expected in p for p in problems), problems


def test_the_validator_catches_broken_lens_columns(assets: Any) -> None:
    def break_rate(objects: list[Any]) -> None:
        lens = next(o for o in objects if o["type"] == "lens" and "counter_rate" in json.dumps(o))
        layer = next(
            iter(lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values())
        )
        for column in layer["columns"].values():
            if column["operationType"] == "max" and column.get("label", "").startswith("Maximum"):
                column["operationType"] = "average"

    assert any("counter_rate must reference a max" in p for p in _broken(assets, break_rate))


# ------------------------------------------------------------------- property


NAMES = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda s: s.strip("_") != ""
)


@st.composite
def numeric_groups(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=8, unique=True))
    return [
        {
            "name": name,
            "type": draw(st.sampled_from(["long", "double", "float"])),
            "description": f"The {name}.",
            "metric_type": draw(st.sampled_from(["counter", "gauge"])),
            **({"format": "bytes"} if draw(st.booleans()) else {}),
            **(
                {"unit": draw(st.sampled_from(["ms", "s", "micros"]))}
                if draw(st.booleans())
                else {}
            ),
        }
        for name in names
    ]


@settings(max_examples=25, deadline=None)
@given(stats=numeric_groups(), connections=numeric_groups())
def test_any_catalog_generates_valid_objects(
    stats: list[dict[str, Any]], connections: list[dict[str, Any]]
) -> None:
    def extend(data: list[Any]) -> None:
        sora = next(s for s in data if s["key"] == "sora")
        groups = {f["name"]: f for f in sora["fields"][0]["fields"]}
        groups["stats"]["fields"].append(
            {"name": "extra", "type": "group", "description": "x", "fields": stats}
        )
        groups["connections"]["fields"].append(
            {"name": "extra", "type": "group", "description": "x", "fields": connections}
        )

    generated = build_assets(sets=_edit_fields(extend))
    assert validate(generated.objects(), TARGET) == []
    for group, prefix in ((stats, "sora.stats.extra."), (connections, "sora.connections.extra.")):
        for f in group:
            lens = generated.field_visualizations[prefix + f["name"]]
            assert plotted_fields(lens) == [prefix + f["name"]]
    ids = [o["id"] for o in generated.objects()]
    assert len(ids) == len(set(ids))


# -------------------------------------------------------- tags and versions


def test_every_object_kibana_can_tag_carries_the_sorabeat_tag(assets: Any) -> None:
    objects = assets.objects()
    tags = [o for o in objects if o["type"] == "tag"]
    assert [t["attributes"]["name"] for t in tags] == ["sorabeat"]
    assert untagged(objects, tags[0]["id"]) == []
    tagged_count = sum(1 for o in objects if any(r["type"] == "tag" for r in o["references"]))
    assert tagged_count == len(objects) - 2  # all but the data view (not taggable) and the tag


def test_the_data_view_carries_the_version_kibana_8_exports(assets: Any) -> None:
    assert assets.data_view["typeMigrationVersion"] == "8.0.0"


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda o: o[1]["references"].pop(), "not carrying"),
        (
            lambda o: o[1]["references"][-1].__setitem__("name", "tag-sorabeat"),
            "a tag reference is named tag-ref-<id>",
        ),
        (lambda o: o.pop(-2), "which is not in the set"),
        (
            lambda o: o[0]["references"].append(dict(o[1]["references"][-1])),
            "Kibana cannot tag a index-pattern",
        ),
        (lambda o: o[-2]["attributes"].pop("color"), "attributes.color must be str"),
    ],
)
def test_the_validator_catches_broken_tags(assets: Any, mutation: Any, expected: str) -> None:
    objects = copy.deepcopy(assets.objects())
    mutation(objects)
    tag_id = assets.objects()[-2]["id"]
    problems = validate(objects, TARGET) + [f"{p}: not carrying" for p in untagged(objects, tag_id)]
    assert any(expected in p for p in problems), problems


def test_node_bitrate_is_a_per_poll_sum_of_the_channel_rates(assets: Any) -> None:
    """Channel events of one poll share its @timestamp: sum over the bucket divided by the
    polls in it is the node's bitrate, whatever the bucket's width."""
    node = next(
        o
        for o in assets.overview_visualizations
        if o["attributes"]["title"] == "Sora: bitrate in and out per node"
    )
    layer = next(
        iter(node["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values())
    )
    formulas = sorted(
        c["params"]["formula"] for c in layer["columns"].values() if c["operationType"] == "formula"
    )
    assert formulas == [
        "sum(sora.channels.rates.received_bits_per_second) / unique_count(@timestamp)",
        "sum(sora.channels.rates.sent_bits_per_second) / unique_count(@timestamp)",
    ]
    maths = [c for c in layer["columns"].values() if c["operationType"] == "math"]
    assert {m["params"]["tinymathAst"]["name"] for m in maths} == {"divide"}
    for math in maths:
        first, second = (layer["columns"][r] for r in math["references"])
        assert first["operationType"] == "sum"
        assert (second["operationType"], second["sourceField"]) == ("unique_count", "@timestamp")
