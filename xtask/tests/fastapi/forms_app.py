"""Form and multipart bodies: fields beside several files, single and
optional files, urlencoded forms with list fields.

Every operation answers with what it received (field values, file names,
media types and the files' bytes, hex-encoded).
"""

from typing import Annotated, Optional

from fastapi import FastAPI, File, Form, UploadFile

app = FastAPI(title="forms-echo", version="1.0.0")


async def describe(upload: UploadFile) -> dict:
    content = await upload.read()
    return {
        "file_name": upload.filename,
        "content_type": upload.content_type,
        "hex": content.hex(),
    }


@app.post("/login")
def login(
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    remember: Annotated[bool, Form()] = False,
    scopes: Annotated[list[str], Form()] = [],
):
    return {"username": username, "password": password, "remember": remember, "scopes": scopes}


@app.post("/upload")
async def upload(
    files: Annotated[list[UploadFile], File()],
    description: Annotated[str, Form()],
    tags: Annotated[list[str], Form()] = [],
    count: Annotated[int, Form()] = 1,
):
    return {
        "files": [await describe(f) for f in files],
        "description": description,
        "tags": tags,
        "count": count,
    }


@app.post("/users/{user_id}/avatar")
async def set_avatar(
    user_id: int,
    avatar: Annotated[UploadFile, File()],
    caption: Annotated[Optional[str], Form()] = None,
):
    return {"user_id": user_id, "avatar": await describe(avatar), "caption": caption}


@app.post("/attachments")
async def attach(
    title: Annotated[str, Form()],
    attachment: Annotated[Optional[UploadFile], File()] = None,
):
    return {
        "title": title,
        "attachment": None if attachment is None else await describe(attachment),
    }
