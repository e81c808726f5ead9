"""The construct matrix: every construct FastAPI emits, as one live app.

The tables below are the source of truth of xtask/tests/construct_matrix.rs.
Each row (a *cell*) becomes one operation of `app` that answers with what it
received, and one entry of the manifest (`python matrix_app.py manifest`,
JSON on standard output): the operation, how the generated Rust client calls
it (a builder chain and a reader, as Rust source) and the answer expected
when the client sent exactly what its caller asked for.

Groups:
- parameters: every location (path, query, header, cookie) x every value
  kind FastAPI accepts there (PARAMETER_KINDS x LOCATIONS, lists where
  FastAPI reads them, plus the Optional, default, alias, deprecated and
  nullable variants). A parameter cell answers `{"repr": repr(value)}`; the
  expected answer is the repr of what pydantic makes of the cell's canonical
  text, so type and value must both match.
- bodies: every request body kind (BODY_CELLS).
- responses: every response kind (RESPONSE_CELLS).
- methods: every HTTP method OpenAPI allows (METHOD_CELLS).

A cell whose construct FastAPI itself cannot read says so in `fastapi_limit`
and gives the answer FastAPI sends every client (the harness checks that it
still does, so the cell flips when FastAPI changes).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import json
import sys
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import (
    Body,
    Cookie,
    FastAPI,
    File,
    HTTPException,
    Form,
    Header,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field, HttpUrl, TypeAdapter

app = FastAPI(title="construct-matrix", version="1.0.0")


class Color(str, enum.Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Level(enum.IntEnum):
    low = 1
    high = 2


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


@dataclass
class Kind:
    """A value kind of a parameter: its annotation, two canonical texts (as
    FastAPI parses them; a list cell sends both) and the Rust expressions
    the client is called with for each."""

    name: str
    annotation: Any
    texts: tuple[str, str]
    rust: tuple[str, str]
    # Texts and Rust for headers and cookies, where the default texts hold
    # characters those cannot carry as such.
    plain_texts: Optional[tuple[str, str]] = None
    plain_rust: Optional[tuple[str, str]] = None
    # The Rust type of a list's items where a text alone does not convert
    # (an inline enum: typify names it after the operation and parameter).
    item_type: Optional[str] = None
    # Locations where FastAPI cannot read the kind: location -> (why,
    # expected answer, reader).
    limits: dict = field(default_factory=dict)

    def list_rust(self, location: str, rust: tuple[str, str]) -> str:
        """`vec![..]` of both samples for a list parameter at `location`."""
        if self.item_type:
            name = self.item_type.format(
                Location=location.capitalize(), Param="Xv" if location == "header" else "V"
            )
            items = [f"{name}::try_from({r}).unwrap_or_else(|e| panic!(\"{{e}}\"))" for r in rust]
        else:
            items = [f"{r}.to_owned()" if r.startswith('"') else r for r in rust]
        return f"vec![{', '.join(items)}]"


UUID_A = "6f1c2a4e-9b7d-4c3e-8a51-2d0f7e6b9c10"
UUID_B = "00000000-0000-4000-8000-000000000001"

PARAMETER_KINDS = [
    Kind(
        "str",
        str,
        ("a b&c+ü%", "x,y=z"),
        ('"a b&c+ü%"', '"x,y=z"'),
        plain_texts=("a b+c", "x-y.z"),
        plain_rust=('"a b+c"', '"x-y.z"'),
    ),
    Kind("int", int, ("7", "-3"), ("7", "-3")),
    Kind("float", float, ("2.5", "-0.125"), ("2.5", "-0.125")),
    Kind("bool", bool, ("true", "false"), ("true", "false")),
    Kind("enum", Color, ("blue", "red"), ("types::Color::Blue", "types::Color::Red")),
    Kind(
        "literal",
        Literal["asc", "desc"],
        ("desc", "asc"),
        ('"desc"', '"asc"'),
        item_type="types::{Location}ListLiteral{Param}Item",
    ),
    Kind(
        "date",
        datetime.date,
        ("2024-02-29", "1999-12-31"),
        ("date(2024, 2, 29)", "date(1999, 12, 31)"),
    ),
    Kind(
        "datetime",
        datetime.datetime,
        ("2024-02-29T12:30:05Z", "1999-12-31T23:59:59Z"),
        ('datetime("2024-02-29T12:30:05Z")', 'datetime("1999-12-31T23:59:59Z")'),
    ),
    Kind(
        "time",
        datetime.time,
        ("12:30:05", "23:59:59"),
        ('"12:30:05"', '"23:59:59"'),
    ),
    Kind(
        "uuid",
        uuid.UUID,
        (UUID_A, UUID_B),
        (f'uuid("{UUID_A}")', f'uuid("{UUID_B}")'),
    ),
    Kind("decimal", decimal.Decimal, ("1.25", "-7"), ('"1.25"', '"-7"')),
    Kind(
        "union",
        Union[uuid.UUID, int],
        (UUID_A, "42"),
        (f'"{UUID_A}"', '"42"'),
    ),
    Kind("union-enum", Union[Color, int], ("blue", "42"), ('"blue"', '"42"')),
    Kind("int-enum", Level, ("2", "1"), ("2", "1"), item_type="types::Level"),
    Kind("timedelta", datetime.timedelta, ("PT1H30M", "P1D"), ('"PT1H30M"', '"P1D"')),
    Kind(
        "url",
        HttpUrl,
        ("https://example.com/a?b=c", "http://x.org/"),
        ('"https://example.com/a?b=c"', '"http://x.org/"'),
        item_type="types::{Location}ListUrl{Param}Item",
        limits={
            "path": (
                "Starlette decodes %2F before routing: no path segment can hold a '/', "
                "so a URL in a path parameter is a 404 whatever the client sends",
                {"status": 404, "body": {"detail": "Not Found"}},
                "unexpected(response).await",
            )
        },
    ),
]

LOCATIONS = ["path", "query", "header", "cookie"]

# Where FastAPI reads a list: query (repeated `v=a&v=b`) and header
# (repeated header lines). A cookie has one value.
LIST_LOCATIONS = ["query", "header", "cookie"]

SETTER = {"path": "v", "query": "v", "header": "x_v", "cookie": "v"}
PARAM_FUNCTION = {"path": Path, "query": Query, "header": Header, "cookie": Cookie}


@dataclass
class Case:
    """One call of a cell: the builder chain after `client.OP()` and the
    expected answer."""

    label: str
    chain: str
    expected: Any
    read: str = "json(response)"


@dataclass
class Cell:
    group: str
    row: str
    column: str
    operation_id: str
    method: str
    path: str
    cases: list[Case]
    fastapi_limit: Optional[str] = None

    def manifest(self) -> dict:
        return {
            "group": self.group,
            "row": self.row,
            "column": self.column,
            "operation_id": self.operation_id,
            "method": self.method.upper(),
            "path": self.path,
            "fastapi_limit": self.fastapi_limit,
            "cases": [
                {"label": c.label, "chain": c.chain, "expected": c.expected, "read": c.read}
                for c in self.cases
            ],
        }


CELLS: list[Cell] = []


def stable(value: Any) -> Any:
    """A set in a stable order (a set's repr follows the hash seed)."""
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def repr_of(annotation: Any, value: Any) -> dict:
    """What a parameter cell answers when FastAPI parsed `value` (texts)."""
    return {"repr": repr(stable(TypeAdapter(annotation).validate_python(value)))}


def echo_handler(name: str, parameter: inspect.Parameter):
    def handler(**kwargs):
        return {"repr": repr(stable(kwargs[name]))}

    handler.__signature__ = inspect.Signature([parameter])
    return handler


def add_parameter_cell(
    location: str,
    row: str,
    annotation: Any,
    cases: list[tuple[str, Any, Optional[str]]],
    *,
    default: Any = inspect.Parameter.empty,
    alias: Optional[str] = None,
    deprecated: bool = False,
    setter: Optional[str] = None,
    fastapi_limit: Optional[str] = None,
    limit_expected: Any = None,
    limit_read: str = "validation_error(response)",
    constraints: Optional[dict] = None,
    route_param: str = "{v}",
) -> None:
    """One operation taking one parameter `v` (`x-v` as a header) at
    `location`; `cases` are (label, texts or None for "not sent", Rust)."""
    operation_id = f"{location}_{row}".replace("-", "_")
    name = "x_v" if location == "header" else "v"
    path = f"/{location}/{row}"
    if location == "path":
        path += "/" + route_param
    options: dict[str, Any] = dict(constraints or {})
    if alias:
        options["alias"] = alias
    if deprecated:
        options["deprecated"] = True
    marker = PARAM_FUNCTION[location](**options)
    parameter = inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[annotation, marker],
        default=default,
    )
    app.add_api_route(
        path,
        echo_handler(name, parameter),
        methods=["GET"],
        operation_id=operation_id,
    )
    setter = setter or SETTER[location]
    built = []
    for label, texts, rust in cases:
        if texts is None:
            chain = ""
            expected = {"repr": repr(default)}
        else:
            chain = f".{setter}({rust})"
            expected = repr_of(annotation, texts)
        if fastapi_limit:
            built.append(Case(label, chain, limit_expected, read=limit_read))
            continue
        built.append(Case(label, chain, expected))
    CELLS.append(
        Cell(
            "parameters",
            row,
            location,
            operation_id,
            "get",
            path.replace(":path}", "}"),
            built,
            fastapi_limit,
        )
    )


def kind_texts(kind: Kind, location: str) -> tuple[tuple[str, str], tuple[str, str]]:
    if location in ("header", "cookie") and kind.plain_texts:
        return kind.plain_texts, kind.plain_rust or kind.rust
    return kind.texts, kind.rust


COOKIE_LIST_LIMIT = (
    "FastAPI reads one value per cookie: a list cookie answers 422 (list_type) "
    "whatever the client sends"
)


def cookie_list_422() -> dict:
    return {"status": 422, "type": "list_type"}


for location in LOCATIONS:
    for kind in PARAMETER_KINDS:
        texts, rust = kind_texts(kind, location)
        limit = kind.limits.get(location)
        add_parameter_cell(
            location,
            kind.name,
            kind.annotation,
            [("given", texts[0], rust[0])],
            fastapi_limit=limit[0] if limit else None,
            limit_expected=limit[1] if limit else None,
            limit_read=limit[2] if limit else "",
        )
        # One list cookie shows the limit; FastAPI reads none.
        listed = location in LIST_LOCATIONS and (location != "cookie" or kind.name == "str")
        if listed:
            limit = COOKIE_LIST_LIMIT if location == "cookie" else None
            add_parameter_cell(
                location,
                f"list-{kind.name}",
                list[kind.annotation],
                [("given", list(texts), kind.list_rust(location, rust))],
                default=[] if location != "path" else inspect.Parameter.empty,
                fastapi_limit=limit,
                limit_expected=cookie_list_422() if limit else None,
            )
    # `Union[UUID, str]`, FastAPI's "id or name": two string schemas.
    add_parameter_cell(
        location,
        "union-id-or-name",
        Union[uuid.UUID, str],
        [("given", UUID_A, f'"{UUID_A}"')],
    )
    # Nullable and required: `Optional[str]` without a default.
    add_parameter_cell(location, "nullable", Optional[str], [("given", "abc", '"abc"')])
    # Bounds (`ge=1` makes the client's type a NonZeroU64).
    add_parameter_cell(
        location,
        "constrained-int",
        int,
        [("given", "7", "nonzero(7)")],
        constraints={"ge": 1, "le": 10},
    )
    if location in ("query", "header"):
        add_parameter_cell(
            location,
            "set-str",
            set[str],
            [("given", ["b", "a"], 'vec!["b".to_owned(), "a".to_owned()]')],
            default=set(),
        )
    if location == "path":
        # Starlette's `path` convertor: the value may hold slashes.
        add_parameter_cell(
            location,
            "path-convertor",
            str,
            [("given", "a/b c/d.txt", '"a/b c/d.txt"')],
            route_param="{v:path}",
        )
        add_parameter_cell(
            location, "deprecated", int, [("given", "5", "5")], deprecated=True
        )
        continue
    add_parameter_cell(
        location,
        "optional",
        Optional[int],
        [("given", "5", "5"), ("absent", None, None)],
        default=None,
    )
    add_parameter_cell(
        location,
        "optional-union",
        Optional[Union[int, bool]],
        [("given", "true", '"true"'), ("absent", None, None)],
        default=None,
    )
    add_parameter_cell(
        location,
        "default",
        int,
        [("given", "9", "9"), ("absent", None, None)],
        default=4,
    )
    add_parameter_cell(
        location,
        "default-enum",
        Color,
        [("given", "red", "types::Color::Red"), ("absent", None, None)],
        default=Color.green,
    )
    alias = {"query": "v-alias", "header": "x-v-alias", "cookie": "v-alias"}[location]
    add_parameter_cell(
        location,
        "alias",
        str,
        [("given", "aliased", '"aliased"')],
        alias=alias,
        setter=alias.replace("-", "_"),
    )
    add_parameter_cell(
        location,
        "deprecated",
        int,
        [("given", "5", "5"), ("absent", None, None)],
        default=1,
        deprecated=True,
    )


# --------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float = 1.5
    tags: list[str] = []
    color: Color = Color.red
    note: Optional[str] = None


class Address(BaseModel):
    street: str
    city: str


class Order(BaseModel):
    id: uuid.UUID
    items: list[Item]
    ship_to: Address
    placed: datetime.datetime
    total: decimal.Decimal


class Node(BaseModel):
    label: str
    children: list[Node] = []


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


Pet = Annotated[Union[Cat, Dog], Field(discriminator="kind")]


class NotFound(BaseModel):
    missing: str


ITEM = {"name": "lamp", "price": 9.75, "tags": ["a", "b"], "color": "blue", "note": None}
ORDER = {
    "id": UUID_A,
    "items": [ITEM, {"name": "bulb", "price": 0.5, "tags": [], "color": "red", "note": "x"}],
    "ship_to": {"street": "1 Main St", "city": "Springfield"},
    "placed": "2024-02-29T12:30:05Z",
    "total": "10.25",
}
NODE = {"label": "root", "children": [{"label": "a", "children": [{"label": "b", "children": []}]}]}


def body_repr(annotation: Any, sample: Any) -> dict:
    """What a body cell answers when FastAPI parsed the JSON `sample`."""
    return {"repr": repr(TypeAdapter(annotation).validate_json(json.dumps(sample)))}


SINGULAR = {"bodies": "body", "responses": "response", "methods": "method"}


def add_cell(group: str, row: str, method: str, path: str, cases: list[Case], **route: Any):
    """Registers the decorated handler as the cell's operation."""

    def register(handler):
        operation_id = f"{SINGULAR[group]}_{row}".replace("-", "_")
        app.add_api_route(path, handler, methods=[method.upper()], operation_id=operation_id, **route)
        CELLS.append(Cell(group, row, "", operation_id, method, path, cases))
        return handler

    return register


def js(value: Any) -> str:
    """A JSON value as a Rust `serde_json::json!` expression."""
    return f"json!({json.dumps(value, ensure_ascii=False)})"


@add_cell("bodies", "model", "post", "/bodies/model", [Case("given", f".body(as_type::<types::Item>({js(ITEM)}))", body_repr(Item, ITEM))])
def body_model(item: Item):
    return {"repr": repr(item)}


@add_cell(
    "bodies",
    "list",
    "post",
    "/bodies/list",
    [Case("given", f".body(as_type::<Vec<types::Item>>({js([ITEM, ITEM])}))", body_repr(list[Item], [ITEM, ITEM]))],
)
def body_list(items: list[Item]):
    return {"repr": repr(items)}


@add_cell("bodies", "scalar", "post", "/bodies/scalar", [Case("given", ".body(12)", {"repr": "12"})])
def body_scalar(count: Annotated[int, Body()]):
    return {"repr": repr(count)}


@add_cell(
    "bodies",
    "dict",
    "post",
    "/bodies/dict",
    [Case("given", f".body(as_type::<std::collections::HashMap<String, i64>>({js({'a': 1, 'b': 2})}))", {"repr": repr({"a": 1, "b": 2})})],
)
def body_dict(counts: dict[str, int]):
    return {"repr": repr(dict(sorted(counts.items())))}


@add_cell("bodies", "nested", "post", "/bodies/nested", [Case("given", f".body(as_type::<types::Order>({js(ORDER)}))", body_repr(Order, ORDER))])
def body_nested(order: Order):
    return {"repr": repr(order)}


@add_cell("bodies", "recursive", "post", "/bodies/recursive", [Case("given", f".body(as_type::<types::Node>({js(NODE)}))", body_repr(Node, NODE))])
def body_recursive(node: Node):
    return {"repr": repr(node)}


@add_cell(
    "bodies",
    "tuple",
    "post",
    "/bodies/tuple",
    [Case("given", f".body(as_type::<[types::BodyTupleBodyItem; 3]>({js([3, 'x', True])}))", body_repr(tuple[int, str, bool], [3, "x", True]))],
)
def body_tuple(triple: Annotated[tuple[int, str, bool], Body()]):
    return {"repr": repr(triple)}


CAT = {"kind": "cat", "lives": 9}
DOG = {"kind": "dog", "good": True}


@add_cell(
    "bodies",
    "discriminated-union",
    "post",
    "/bodies/discriminated-union",
    [
        Case("cat", f".body(as_type::<types::BodyDiscriminatedUnionBody>({js(CAT)}))", body_repr(Pet, CAT)),
        Case("dog", f".body(as_type::<types::BodyDiscriminatedUnionBody>({js(DOG)}))", body_repr(Pet, DOG)),
    ],
)
def body_discriminated(pet: Annotated[Pet, Body()]):
    return {"repr": repr(pet)}


ADDRESS = {"street": "2 Elm St", "city": "Shelbyville"}


@add_cell(
    "bodies",
    "plain-union",
    "post",
    "/bodies/plain-union",
    [
        Case("item", f".body(as_type::<types::BodyPlainUnionBody>({js(ITEM)}))", body_repr(Union[Item, Address], ITEM)),
        Case("address", f".body(as_type::<types::BodyPlainUnionBody>({js(ADDRESS)}))", body_repr(Union[Item, Address], ADDRESS)),
    ],
)
def body_plain_union(thing: Annotated[Union[Item, Address], Body()]):
    return {"repr": repr(thing)}


@add_cell(
    "bodies",
    "embed",
    "post",
    "/bodies/embed",
    [Case("given", f".body_map(|body| body.item(as_type::<types::Item>({js(ITEM)})))", body_repr(Item, ITEM))],
)
def body_embed(item: Annotated[Item, Body(embed=True)]):
    return {"repr": repr(item)}


@add_cell(
    "bodies",
    "several",
    "post",
    "/bodies/several",
    [
        Case(
            "given",
            f".body_map(|body| body.item(as_type::<types::Item>({js(ITEM)})).address(as_type::<types::Address>({js(ADDRESS)})).priority(2))",
            {"repr": repr((TypeAdapter(Item).validate_python(ITEM), TypeAdapter(Address).validate_python(ADDRESS), 2))},
        )
    ],
)
def body_several(item: Item, address: Address, priority: Annotated[int, Body()]):
    return {"repr": repr((item, address, priority))}


@add_cell(
    "bodies",
    "form",
    "post",
    "/bodies/form",
    [
        Case(
            "given",
            '.body_map(|form| form.name("ada l").scopes(vec!["read".to_owned(), "w&x=y".to_owned()]).count(3))',
            {"repr": repr(("ada l", ["read", "w&x=y"], 3))},
        )
    ],
)
def body_form(
    name: Annotated[str, Form()],
    scopes: Annotated[list[str], Form()] = [],
    count: Annotated[int, Form()] = 1,
):
    return {"repr": repr((name, scopes, count))}


BLOB = bytes(range(256)) + b"\r\n--x"


async def describe(upload: UploadFile) -> list:
    return [upload.filename, upload.content_type, (await upload.read()).hex()]


@add_cell(
    "bodies",
    "file-bytes",
    "post",
    "/bodies/file-bytes",
    [Case("given", '.body_map(|form| form.data(file_part("data.bin", "application/octet-stream")))', {"repr": repr(BLOB.hex())})],
)
def body_file_bytes(data: Annotated[bytes, File()]):
    return {"repr": repr(data.hex())}


@add_cell(
    "bodies",
    "upload-file",
    "post",
    "/bodies/upload-file",
    [Case("given", '.body_map(|form| form.upload(file_part("blob.bin", "application/octet-stream")))', {"repr": repr(["blob.bin", "application/octet-stream", BLOB.hex()])})],
)
async def body_upload_file(upload: Annotated[UploadFile, File()]):
    return {"repr": repr(await describe(upload))}


@add_cell(
    "bodies",
    "file-list",
    "post",
    "/bodies/file-list",
    [
        Case(
            "given",
            '.body_map(|form| form.uploads(vec![file_part("a.bin", "application/octet-stream"), file_part("b.txt", "text/plain")]))',
            {"repr": repr([["a.bin", "application/octet-stream", BLOB.hex()], ["b.txt", "text/plain", BLOB.hex()]])},
        )
    ],
)
async def body_file_list(uploads: Annotated[list[UploadFile], File()]):
    return {"repr": repr([await describe(u) for u in uploads])}


@add_cell(
    "bodies",
    "files-and-fields",
    "post",
    "/bodies/files-and-fields",
    [
        Case(
            "given",
            '.body_map(|form| form.upload(file_part("c.bin", "image/png")).title("t i").tags(vec!["x".to_owned(), "y".to_owned()]))',
            {"repr": repr((["c.bin", "image/png", BLOB.hex()], "t i", ["x", "y"]))},
        )
    ],
)
async def body_files_and_fields(
    upload: Annotated[UploadFile, File()],
    title: Annotated[str, Form()],
    tags: Annotated[list[str], Form()] = [],
):
    return {"repr": repr((await describe(upload), title, tags))}


CSV = "a,b\n1,2\n"


@add_cell(
    "bodies",
    "raw-media-type",
    "post",
    "/bodies/raw-media-type",
    [Case("given", f".body({json.dumps(CSV)})", {"repr": repr(("text/csv", CSV))})],
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def body_raw(request: Request):
    return {"repr": repr((request.headers.get("content-type"), (await request.body()).decode()))}


@add_cell(
    "bodies",
    "optional-model",
    "post",
    "/bodies/optional-model",
    [
        Case("given", f".body(as_type::<types::Item>({js(ITEM)}))", body_repr(Item, ITEM)),
    ],
)
def body_optional(item: Optional[Item] = None):
    return {"repr": repr(item)}


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


@add_cell("responses", "json-model", "get", "/responses/json-model", [Case("given", "", ITEM)])
def response_model() -> Item:
    return Item(**ITEM)


@add_cell("responses", "json-list", "get", "/responses/json-list", [Case("given", "", [ITEM, ITEM])])
def response_list() -> list[Item]:
    return [Item(**ITEM), Item(**ITEM)]


@add_cell("responses", "json-scalar", "get", "/responses/json-scalar", [Case("given", "", 42)])
def response_scalar() -> int:
    return 42


@add_cell(
    "responses",
    "status-201",
    "post",
    "/responses/status-201",
    [Case("given", "", {"status": 201, "body": ITEM}, read="status_and_json(response)")],
    status_code=201,
)
def response_201() -> Item:
    return Item(**ITEM)


@add_cell(
    "responses",
    "status-202",
    "post",
    "/responses/status-202",
    [Case("given", "", {"status": 202, "body": {"accepted": True}}, read="status_and_json(response)")],
    status_code=202,
)
def response_202():
    return {"accepted": True}


@add_cell(
    "responses",
    "status-204",
    "delete",
    "/responses/status-204",
    [Case("given", "", {"status": 204}, read="status_only(response)")],
    status_code=204,
)
def response_204() -> None:
    return None


@add_cell(
    "responses",
    "optional-204",
    "get",
    "/responses/optional-204",
    [
        Case("found", ".found(true)", {"status": 200, "body": ITEM}, read="status_and_optional(response)"),
        Case("none", ".found(false)", {"status": 204, "body": None}, read="status_and_optional(response)"),
    ],
    responses={204: {"description": "Not there"}},
)
def response_optional(found: bool) -> Optional[Item]:
    if not found:
        return Response(status_code=204)
    return Item(**ITEM)


@add_cell(
    "responses",
    "typed-4xx",
    "get",
    "/responses/typed-4xx",
    [Case("given", "", {"status": 404, "body": {"missing": "thing"}}, read="error_json(response)")],
    responses={404: {"model": NotFound}},
)
def response_typed_404():
    return JSONResponse(status_code=404, content={"missing": "thing"})


@add_cell(
    "responses",
    "undocumented-404",
    "get",
    "/responses/undocumented-404",
    [Case("given", "", {"status": 404, "body": {"detail": "no such thing"}}, read="unexpected(response).await")],
)
def response_undocumented_404():
    raise HTTPException(status_code=404, detail="no such thing")


TEXT = "héllo, wörld\n"
HTML = "<p>héllo</p>"


@add_cell(
    "responses",
    "text-plain",
    "get",
    "/responses/text-plain",
    [Case("given", "", {"content_type": "text/plain; charset=utf-8", "text": TEXT}, read="text(response).await")],
    response_class=PlainTextResponse,
)
def response_text():
    return TEXT


@add_cell(
    "responses",
    "text-html",
    "get",
    "/responses/text-html",
    [Case("given", "", {"content_type": "text/html; charset=utf-8", "text": HTML}, read="text(response).await")],
    response_class=HTMLResponse,
)
def response_html():
    return HTML


EVENTS = "data: one\n\ndata: two\n\n"


@add_cell(
    "responses",
    "event-stream",
    "get",
    "/responses/event-stream",
    [Case("given", "", {"content_type": "text/event-stream; charset=utf-8", "text": EVENTS}, read="text(response).await")],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def response_events():
    async def events():
        yield "data: one\n\n"
        yield "data: two\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@add_cell(
    "responses",
    "octet-stream",
    "get",
    "/responses/octet-stream",
    [Case("given", "", {"content_type": "application/octet-stream", "hex": BLOB.hex()}, read="bytes_hex(response).await")],
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
def response_octets():
    return Response(content=BLOB, media_type="application/octet-stream")


@add_cell(
    "responses",
    "json-or-text",
    "get",
    "/responses/json-or-text",
    [
        Case("json", '.format("json")', {"json": ITEM}, read="mixed(response).await"),
        Case("text", '.format("csv")', {"content_type": "text/csv; charset=utf-8", "text": CSV}, read="mixed(response).await"),
    ],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def response_json_or_text(format: Literal["json", "csv"]) -> Item:
    if format == "csv":
        return PlainTextResponse(CSV, media_type="text/csv")
    return Item(**ITEM)


class VendorJSONResponse(JSONResponse):
    media_type = "application/vnd.feather+json"


@add_cell(
    "responses",
    "custom-class",
    "get",
    "/responses/custom-class",
    [Case("given", "", {"content_type": "application/vnd.feather+json", "text": json.dumps({"custom": True}, separators=(",", ":"))}, read="text(response).await")],
    response_class=VendorJSONResponse,
)
def response_custom():
    return {"custom": True}


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------


def method_cell(method: str) -> None:
    def handler(v: int, response: Response):
        response.headers["x-echo"] = repr(v)
        return {"repr": repr(v)}

    read = "status_and_echo_header(response)" if method == "head" else "json(response)"
    expected = {"status": 200, "x_echo": "11"} if method == "head" else {"repr": "11"}
    operation_id = f"method_{method}"
    app.add_api_route(f"/methods/{method}", handler, methods=[method.upper()], operation_id=operation_id)
    CELLS.append(
        Cell("methods", method, "", operation_id, method, f"/methods/{method}", [Case("given", ".v(11)", expected, read=read)])
    )


for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"]:
    method_cell(method)


def manifest() -> list[dict]:
    return [cell.manifest() for cell in CELLS]


if __name__ == "__main__":
    if sys.argv[1:] != ["manifest"]:
        sys.exit("usage: python matrix_app.py manifest")
    json.dump(manifest(), sys.stdout, ensure_ascii=False, indent=1)
