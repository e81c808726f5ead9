//! The `url` connector against a loopback fixture site, and the `local`
//! connector on a temporary directory.

use std::collections::BTreeMap;
use std::time::Duration;

use feather_connectors::{Completion, Event, for_source};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs a connector to the end: (completion, last total, items by id with
/// title, failures by id with reason).
struct Run {
    completion: Completion,
    totals: Vec<u64>,
    items: BTreeMap<String, Option<String>>,
    texts: BTreeMap<String, String>,
    failures: BTreeMap<String, String>,
}

async fn run(provider: &str, config: Value) -> anyhow::Result<Run> {
    let connector = for_source(provider, &config)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let collect = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = rx.recv().await {
            events.push(event);
        }
        events
    });
    let completion = connector.run(tx).await?;
    let mut out = Run {
        completion,
        totals: Vec::new(),
        items: BTreeMap::new(),
        texts: BTreeMap::new(),
        failures: BTreeMap::new(),
    };
    for event in collect.await? {
        match event {
            Event::Total(n) => out.totals.push(n),
            Event::Item(item) => {
                out.texts
                    .insert(item.external_id.clone(), item.text.clone());
                out.items.insert(item.external_id, item.title);
            }
            Event::Failed(f) => {
                out.failures.insert(f.external_id, f.reason);
            }
        }
    }
    Ok(out)
}

fn html(title: &str, links: &[&str]) -> ResponseTemplate {
    let anchors: String = links
        .iter()
        .map(|l| format!("<a href=\"{l}\">{l}</a>"))
        .collect();
    ResponseTemplate::new(200).set_body_raw(
        format!("<html><head><title>{title}</title></head><body><p>{title} text</p>{anchors}</body></html>"),
        "text/html; charset=utf-8",
    )
}

async fn page(server: &MockServer, at: &str, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(answer)
        .mount(server)
        .await;
}

async fn fixture_site() -> MockServer {
    let server = MockServer::start().await;
    page(
        &server,
        "/",
        html(
            "Home",
            &[
                "/a",
                "/a#section",
                "/missing",
                "/old",
                "/logo.png",
                "/slow",
                "/offsite",
                "https://elsewhere.example/x",
                "mailto:x@example.com",
            ],
        ),
    )
    .await;
    page(&server, "/a", html("Page A", &["/b", "/"])).await;
    page(&server, "/b", html("Page B", &["/c"])).await;
    page(&server, "/c", html("Page C", &[])).await;
    page(&server, "/missing", ResponseTemplate::new(404)).await;
    page(
        &server,
        "/old",
        ResponseTemplate::new(301).insert_header("location", "/b"),
    )
    .await;
    page(
        &server,
        "/logo.png",
        ResponseTemplate::new(200).set_body_raw(vec![0x89, b'P', b'N', b'G', 0, 1, 2], "image/png"),
    )
    .await;
    page(
        &server,
        "/slow",
        html("Slow", &[]).set_delay(Duration::from_secs(3)),
    )
    .await;
    page(
        &server,
        "/offsite",
        ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:9/elsewhere"),
    )
    .await;
    server
}

#[tokio::test]
async fn crawl_follows_same_origin_links_and_fails_bad_pages_individually() -> anyhow::Result<()> {
    let site = fixture_site().await;
    let root = format!("{}/", site.uri());
    let out = run("url", json!({"roots": [root], "timeout_ms": 500})).await?;
    let base = site.uri();
    let ids =
        |names: &[&str]| -> Vec<String> { names.iter().map(|n| format!("{base}{n}")).collect() };

    assert_eq!(
        out.items.keys().cloned().collect::<Vec<_>>(),
        ids(&["/", "/a", "/b", "/c", "/old"])
    );
    assert_eq!(out.items[&format!("{base}/a")].as_deref(), Some("Page A"));
    // The redirect lands on /b: its content is /b's.
    assert_eq!(out.texts[&format!("{base}/old")], "Page B text /c");
    let reasons: BTreeMap<_, _> = out
        .failures
        .iter()
        .map(|(k, v)| (k.replace(&base, ""), v.clone()))
        .collect();
    assert_eq!(reasons["/missing"], "HTTP 404 Not Found");
    assert_eq!(reasons["/logo.png"], "not HTML (content-type image/png)");
    assert_eq!(reasons["/slow"], "timed out after 500 ms");
    assert_eq!(
        reasons["/offsite"],
        "redirected off-site to http://127.0.0.1:9/elsewhere"
    );
    assert_eq!(reasons.len(), 4);
    // The total grew as pages were discovered, and ends at every page seen.
    assert_eq!(out.totals.first(), Some(&1));
    assert!(
        out.totals.windows(2).all(|w| w[0] < w[1]),
        "{:?}",
        out.totals
    );
    assert_eq!(out.totals.last(), Some(&9));
    assert!(out.completion.complete);
    Ok(())
}

#[tokio::test]
async fn limits_cut_the_crawl_and_max_pages_marks_it_incomplete() -> anyhow::Result<()> {
    let site = fixture_site().await;
    let root = format!("{}/", site.uri());
    let shallow = run("url", json!({"roots": [root.clone()], "max_depth": 0})).await?;
    assert_eq!(shallow.items.len(), 1);
    assert!(
        shallow.completion.complete,
        "depth is part of the source's definition"
    );

    let few = run(
        "url",
        json!({"roots": [root.clone()], "max_pages": 3, "timeout_ms": 500}),
    )
    .await?;
    assert_eq!(few.items.len() + few.failures.len(), 3);
    assert!(!few.completion.complete);

    let filtered = run(
        "url",
        json!({"roots": [root], "include": ["/", "/a", "/b"], "exclude": ["/b"]}),
    )
    .await?;
    let paths: Vec<_> = filtered
        .items
        .keys()
        .map(|k| k.replace(&site.uri(), ""))
        .collect();
    assert_eq!(paths, ["/", "/a"]);
    Ok(())
}

#[tokio::test]
async fn local_reads_text_markdown_and_html_under_the_root() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    std::fs::create_dir_all(root.join("guide/drafts"))?;
    std::fs::write(root.join("readme.md"), "# Readme\nHello")?;
    std::fs::write(root.join("guide/intro.txt"), "plain text")?;
    std::fs::write(
        root.join("guide/page.html"),
        "<title>Page</title><p>html body</p>",
    )?;
    std::fs::write(root.join("guide/drafts/wip.md"), "not yet")?;
    std::fs::write(root.join("image.png"), [0x89u8, b'P', b'N', b'G'])?;
    std::fs::write(root.join("broken.txt"), [0xffu8, 0xfe, 0x00])?;

    let out = run(
        "local",
        json!({"root": root, "exclude": ["guide/drafts/**"]}),
    )
    .await?;
    assert_eq!(
        out.items.keys().cloned().collect::<Vec<_>>(),
        ["guide/intro.txt", "guide/page.html", "readme.md"]
    );
    assert_eq!(out.items["guide/page.html"].as_deref(), Some("Page"));
    assert_eq!(
        out.texts["guide/page.html"], "html body",
        "the title is not body text"
    );
    assert_eq!(out.texts["readme.md"], "# Readme\nHello");
    assert_eq!(
        out.failures.get("broken.txt").map(String::as_str),
        Some("not UTF-8 text")
    );
    assert_eq!(out.totals, [4]);

    let missing = for_source("local", &json!({"root": root.join("nope")}))?;
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let Err(e) = missing.run(tx).await else {
        panic!("a missing root must fail the run");
    };
    assert!(e.to_string().contains("not a readable directory"), "{e}");
    Ok(())
}
