"""Parameters, JSON bodies and responses of every kind FastAPI emits.

Every operation answers with what it received, so the harness can check
that the generated client sent exactly what its caller asked for.
"""

from enum import Enum
from typing import Annotated, Literal, Optional, Union

from fastapi import Body, Cookie, FastAPI, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

app = FastAPI(title="params-echo", version="1.0.0")


class Color(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Item(BaseModel):
    name: str
    sku: Annotated[str, Field(pattern=r"^(?P<prefix>[A-Z]{2})-(?P<number>\d+)$")]
    price: float = 1.5
    tags: list[str] = []
    color: Color = Color.red
    note: Optional[str] = None


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


Pet = Annotated[Union[Cat, Dog], Field(discriminator="kind")]


@app.get("/items/{item_id}")
def read_item(
    item_id: int,
    q: Optional[str] = None,
    tags: Annotated[list[str], Query()] = [],
    color: Color = Color.green,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    x_trace_id: Annotated[Optional[str], Header()] = None,
    session: Annotated[Optional[str], Cookie()] = None,
    visits: Annotated[Optional[int], Cookie()] = None,
):
    return {
        "item_id": item_id,
        "q": q,
        "tags": tags,
        "color": color,
        "limit": limit,
        "x_trace_id": x_trace_id,
        "session": session,
        "visits": visits,
    }


@app.get("/session")
def whoami(session_id: Annotated[str, Cookie()]):
    return {"session_id": session_id}


@app.post("/items", status_code=201)
def create_item(item: Item) -> Item:
    return item


@app.put("/items/{item_id}", responses={204: {"description": "Nothing changed"}})
def replace_item(item_id: int, item: Item, unchanged: bool = False) -> Optional[Item]:
    if unchanged:
        return Response(status_code=204)
    return item


@app.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: int) -> None:
    return None


@app.post("/pets")
def adopt(pet: Pet, nickname: Annotated[str, Body()] = "buddy"):
    return {"pet": pet.model_dump(), "nickname": nickname}


@app.get(
    "/files/{name}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
def download(name: str, size: int = 16):
    content = bytes((i * 7 + len(name)) % 256 for i in range(size))
    return Response(content=content, media_type="application/octet-stream")


@app.get("/greeting", response_class=PlainTextResponse)
def greeting(name: str = "world"):
    return f"hello, {name}"


NOTE_SCHEMA = {
    "type": "object",
    "required": ["text"],
    "properties": {"text": {"type": "string"}, "pinned": {"type": "boolean"}},
}


@app.post(
    "/notes",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-yaml": {"schema": NOTE_SCHEMA},
                "application/json": {"schema": NOTE_SCHEMA},
            },
        }
    },
)
async def create_note(request: Request):
    """Two request media types: the client sends the JSON one."""
    return {"content_type": request.headers.get("content-type"), "note": await request.json()}


@app.put(
    "/reports/{name}",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": 10000}}},
        }
    },
)
async def upload_report(name: str, request: Request):
    """A media type the client has no encoder for: sent as given."""
    body = await request.body()
    return {"name": name, "content_type": request.headers.get("content-type"), "body": body.decode()}
