//! Calls every operation of `params_app.py` through the client generated
//! from its `/openapi.json` and checks that the app received exactly what
//! was sent (the app echoes it). Prints `called METHOD PATH` after each
//! checked call; panics on the first mismatch. Usage: `driver BASE_URL`.

// A binary uses only part of a library's API: unused items are expected.
#[allow(dead_code, unused_imports)]
mod client {
    include!("generated.rs");
}

use client::{Client, types};
use futures_util::TryStreamExt;
use serde_json::json;

fn called(method: &str, path: &str) {
    println!("called {method} {path}");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let base_url = std::env::args().nth(1).expect("usage: driver BASE_URL");
    let client = Client::new(&base_url);

    // Path, query (list, optional, enum, bounded), header and two cookies.
    let echo = client
        .read_item()
        .item_id(7)
        .q("search me")
        .tags(vec!["a".to_owned(), "b&c".to_owned()])
        .color(types::Color::Blue)
        .limit(std::num::NonZeroU64::new(3).expect("nonzero"))
        .x_trace_id("trace-1")
        .session("s3cr3t")
        .visits(4)
        .send()
        .await
        .expect("read_item")
        .into_inner();
    assert_eq!(
        echo,
        json!({"item_id": 7, "q": "search me", "tags": ["a", "b&c"], "color": "blue",
               "limit": 3, "x_trace_id": "trace-1", "session": "s3cr3t", "visits": 4})
    );
    // Nothing optional sent: the app's defaults apply.
    let echo = client
        .read_item()
        .item_id(8)
        .send()
        .await
        .expect("read_item without options")
        .into_inner();
    assert_eq!(
        echo,
        json!({"item_id": 8, "q": null, "tags": [], "color": "green", "limit": 10,
               "x_trace_id": null, "session": null, "visits": null})
    );
    // Out of the app's bounds (le=100): FastAPI's 422 comes back typed.
    match client
        .read_item()
        .item_id(9)
        .limit(std::num::NonZeroU64::new(500).expect("nonzero"))
        .send()
        .await
    {
        Err(client::Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), 422);
            // The app defines no ErrorResponse: the error type is its
            // one documented error body.
            let body: types::HttpValidationError = response.into_inner();
            let loc = serde_json::to_value(&body.detail[0].loc).expect("loc");
            assert_eq!(loc, json!(["query", "limit"]));
        }
        other => panic!("expected a 422, got {other:?}"),
    }
    called("GET", "/items/{item_id}");

    // A required cookie.
    let echo = client
        .whoami()
        .session_id("abc123")
        .send()
        .await
        .expect("whoami")
        .into_inner();
    assert_eq!(echo, json!({"session_id": "abc123"}));
    called("GET", "/session");

    // JSON body with a Python-regex pattern (translated), defaults and an
    // enum; 201.
    let sku: types::ItemSku = "AB-12"
        .parse()
        .expect("the translated pattern accepts AB-12");
    assert!(
        "ab-12".parse::<types::ItemSku>().is_err(),
        "the translated pattern rejects ab-12"
    );
    let created = client
        .create_item()
        .body_map(|item| {
            item.name("lamp")
                .sku(sku.clone())
                .tags(vec!["x".to_owned()])
        })
        .send()
        .await
        .expect("create_item");
    assert_eq!(created.status().as_u16(), 201);
    let created = created.into_inner();
    assert_eq!(created.name, "lamp");
    assert_eq!(created.sku.as_str(), "AB-12");
    assert_eq!(created.price, 1.5, "the default travels");
    assert_eq!(created.color, types::Color::Red);
    assert_eq!(created.tags, vec!["x".to_owned()]);
    called("POST", "/items");

    // 200 with a body, or 204 without: an Option.
    let replaced = client
        .replace_item()
        .item_id(1)
        .body_map(|item| item.name("desk").sku(sku.clone()).price(9.25))
        .send()
        .await
        .expect("replace_item");
    assert_eq!(replaced.status().as_u16(), 200);
    let replaced = replaced.into_inner().expect("200 has a body");
    assert_eq!((replaced.name.as_str(), replaced.price), ("desk", 9.25));
    let unchanged = client
        .replace_item()
        .item_id(1)
        .unchanged(true)
        .body_map(|item| item.name("desk").sku(sku.clone()))
        .send()
        .await
        .expect("replace_item unchanged");
    assert_eq!(unchanged.status().as_u16(), 204);
    assert_eq!(unchanged.into_inner(), None);
    called("PUT", "/items/{item_id}");

    // 204 only.
    let deleted = client
        .delete_item()
        .item_id(3)
        .send()
        .await
        .expect("delete_item");
    assert_eq!(deleted.status().as_u16(), 204);
    called("DELETE", "/items/{item_id}");

    // A discriminated union in the body, beside a second body field.
    let echo = client
        .adopt()
        .body_map(|body| {
            body.pet(types::Dog {
                kind: types::DogKind::Dog,
                good: true,
            })
            .nickname("rex")
        })
        .send()
        .await
        .expect("adopt")
        .into_inner();
    assert_eq!(
        echo,
        json!({"pet": {"kind": "dog", "good": true}, "nickname": "rex"})
    );
    let echo = client
        .adopt()
        .body_map(|body| {
            body.pet(types::Cat {
                kind: types::CatKind::Cat,
                lives: 9,
            })
        })
        .send()
        .await
        .expect("adopt with the default nickname")
        .into_inner();
    assert_eq!(
        echo,
        json!({"pet": {"kind": "cat", "lives": 9}, "nickname": "buddy"})
    );
    called("POST", "/pets");

    // Two request media types offered: the client sends JSON.
    let echo = client
        .create_note()
        .body_map(|note| note.text("remember the milk").pinned(true))
        .send()
        .await
        .expect("create_note")
        .into_inner();
    assert_eq!(
        echo,
        json!({"content_type": "application/json",
               "note": {"text": "remember the milk", "pinned": true}})
    );
    called("POST", "/notes");

    // text/csv: the caller's bytes, with the declared Content-Type.
    let echo = client
        .upload_report()
        .name("q1")
        .body("region,total\nnorth,12\n")
        .send()
        .await
        .expect("upload_report")
        .into_inner();
    assert_eq!(
        echo,
        json!({"name": "q1", "content_type": "text/csv", "body": "region,total\nnorth,12\n"})
    );
    called("PUT", "/reports/{name}");

    // A file download: bytes, as a stream.
    let response = client
        .download()
        .name("report.bin")
        .size(300)
        .send()
        .await
        .expect("download");
    let chunks: Vec<bytes::Bytes> = response
        .into_inner()
        .into_inner()
        .try_collect()
        .await
        .expect("download body");
    let content: Vec<u8> = chunks.concat();
    let expected: Vec<u8> = (0..300u32)
        .map(|i| ((i * 7 + "report.bin".len() as u32) % 256) as u8)
        .collect();
    assert_eq!(content, expected);
    called("GET", "/files/{name}");

    // text/plain.
    let response = client
        .greeting()
        .name("feather")
        .send()
        .await
        .expect("greeting");
    let chunks: Vec<bytes::Bytes> = response
        .into_inner()
        .into_inner()
        .try_collect()
        .await
        .expect("greeting body");
    assert_eq!(chunks.concat(), b"hello, feather");
    called("GET", "/greeting");
}
