//! Calls every operation of `forms_app.py` through the client generated
//! from its `/openapi.json`: an urlencoded form with a list field, and
//! multipart bodies with several files beside fields, one file, an optional
//! file. The app echoes field values, file names, media types and the
//! files' bytes. Prints `called METHOD PATH` after each checked call.
//! Usage: `driver BASE_URL`.

// A binary uses only part of a library's API: unused items are expected.
#[allow(dead_code, unused_imports)]
mod client {
    include!("generated.rs");
}

use client::{Client, types};
use serde_json::{Value, json};

fn called(method: &str, path: &str) {
    println!("called {method} {path}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file(name: Option<&str>, content_type: Option<&str>, content: &[u8]) -> types::FilePart {
    types::FilePart {
        content: content.to_vec(),
        content_type: content_type.map(str::to_owned),
        file_name: name.map(str::to_owned),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let base_url = std::env::args().nth(1).expect("usage: driver BASE_URL");
    let client = Client::new(&base_url);

    // application/x-www-form-urlencoded, with a list sent as repeated fields.
    let echo: Value = client
        .login()
        .body_map(|form| {
            form.username("ada")
                .password("p@ss w=rd&x")
                .remember(true)
                .scopes(vec!["read".to_owned(), "write".to_owned()])
        })
        .send()
        .await
        .expect("login")
        .into_inner();
    assert_eq!(
        echo,
        json!({"username": "ada", "password": "p@ss w=rd&x", "remember": true,
               "scopes": ["read", "write"]})
    );
    called("POST", "/login");

    // Several files (one binary, one text, one without a name) beside
    // fields, a list field and a number.
    let binary: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let echo: Value = client
        .upload()
        .body_map(|form| {
            form.files(vec![
                file(Some("blob.bin"), Some("application/octet-stream"), &binary),
                file(
                    Some("notes.txt"),
                    Some("text/plain"),
                    "héllo\r\n--x".as_bytes(),
                ),
                file(None, None, b"anonymous"),
            ])
            .description("three files")
            .tags(vec!["t1".to_owned(), "t2".to_owned()])
            .count(3)
        })
        .send()
        .await
        .expect("upload")
        .into_inner();
    assert_eq!(
        echo,
        json!({
            "files": [
                {"file_name": "blob.bin", "content_type": "application/octet-stream", "hex": hex(&binary)},
                {"file_name": "notes.txt", "content_type": "text/plain", "hex": hex("héllo\r\n--x".as_bytes())},
                {"file_name": "files", "content_type": "application/octet-stream", "hex": hex(b"anonymous")}
            ],
            "description": "three files",
            "tags": ["t1", "t2"],
            "count": 3
        })
    );
    called("POST", "/upload");

    // One file beside a path parameter and an optional field, set and unset.
    let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2];
    let echo: Value = client
        .set_avatar()
        .user_id(42)
        .body_map(|form| {
            form.avatar(file(Some("me.png"), Some("image/png"), &png))
                .caption(Some("smile".to_owned()))
        })
        .send()
        .await
        .expect("set_avatar")
        .into_inner();
    assert_eq!(
        echo,
        json!({"user_id": 42, "caption": "smile",
               "avatar": {"file_name": "me.png", "content_type": "image/png", "hex": hex(&png)}})
    );
    let echo: Value = client
        .set_avatar()
        .user_id(43)
        .body_map(|form| form.avatar(file(Some("me.png"), Some("image/png"), &png)))
        .send()
        .await
        .expect("set_avatar without caption")
        .into_inner();
    assert_eq!(echo["caption"], Value::Null);
    assert_eq!(echo["user_id"], json!(43));
    called("POST", "/users/{user_id}/avatar");

    // An optional file: absent, then present.
    let echo: Value = client
        .attach()
        .body_map(|form| form.title("no file"))
        .send()
        .await
        .expect("attach without a file")
        .into_inner();
    assert_eq!(echo, json!({"title": "no file", "attachment": null}));
    let echo: Value = client
        .attach()
        .body_map(|form| {
            form.title("with file").attachment(Some(file(
                Some("a.csv"),
                Some("text/csv"),
                b"a,b\n1,2\n",
            )))
        })
        .send()
        .await
        .expect("attach with a file")
        .into_inner();
    assert_eq!(
        echo,
        json!({"title": "with file",
               "attachment": {"file_name": "a.csv", "content_type": "text/csv", "hex": hex(b"a,b\n1,2\n")}})
    );
    called("POST", "/attachments");
}
