//! Operator endpoints: `/healthz` (the process serves), `/readyz` (the
//! database answers and is migrated) and `/openapi.json` (the emitted
//! document), all unpublished and without a key.

mod common;

use feather_test_support::on_both_backends;
use feather_test_support::proxy::TcpProxy;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;

use common::{Backend, TestDb, TestServer};

async fn get(url: String) -> anyhow::Result<(StatusCode, String)> {
    let answer = reqwest::get(url).await?;
    Ok((answer.status(), answer.text().await?))
}

async fn openapi_json_is_the_emitted_document_and_ready_means_migrated(
    backend: Backend,
) -> anyhow::Result<()> {
    let Some(server) = TestServer::start(backend).await? else {
        return Ok(());
    };
    let answer = reqwest::get(format!("{}/openapi.json", server.base_url())).await?;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    assert_eq!(answer.text().await?, feather_api::EMITTED_DOCUMENT);
    let document: Value = serde_json::from_str(feather_api::EMITTED_DOCUMENT)?;
    for unpublished in ["/openapi.json", "/healthz", "/readyz"] {
        assert!(
            document["paths"].get(unpublished).is_none(),
            "{unpublished}"
        );
    }

    let (status, body) = get(format!("{}/readyz", server.base_url())).await?;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body)?),
        (StatusCode::OK, json!({"status": "ready"}))
    );
    Ok(server.server.shutdown().await?)
}

on_both_backends!(openapi_json_is_the_emitted_document_and_ready_means_migrated);

#[tokio::test]
async fn a_database_missing_a_migration_is_not_ready_but_alive() -> anyhow::Result<()> {
    let Some(server) = TestServer::start(Backend::Sqlite).await? else {
        anyhow::bail!("SQLite is always available");
    };
    // As if the file had been restored from before the newest migration.
    let mut conn = sqlx::SqliteConnection::connect(&server.db.url).await?;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&mut conn)
    .await?;
    let (status, body) = get(format!("{}/readyz", server.base_url())).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body)?["error"],
        "service_unavailable"
    );
    let (status, _) = get(format!("{}/healthz", server.base_url())).await?;
    assert_eq!(status, StatusCode::OK, "alive all the same");
    Ok(server.server.shutdown().await?)
}

#[tokio::test]
async fn an_unreachable_database_is_not_ready_but_the_process_is_alive() -> anyhow::Result<()> {
    let Some(db) = TestDb::fresh(Backend::Postgres).await? else {
        return Ok(());
    };
    let (proxy, proxied) = TcpProxy::in_front_of(&db.url).await?;
    let store = feather_server::store::open(&proxied).await?;
    let server = feather_server::start(
        store,
        "127.0.0.1:0".parse()?,
        None,
        feather_test_support::server::quiet(),
    )?;
    let base = format!("http://{}", server.local_addr());
    assert_eq!(get(format!("{base}/readyz")).await?.0, StatusCode::OK);

    drop(proxy); // the database is gone: connections cut, new ones refused
    let (status, body) = get(format!("{base}/readyz")).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (status, body) = get(format!("{base}/healthz")).await?;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, r#"{"status":"ok"}"#)
    );
    Ok(server.shutdown().await?)
}

#[tokio::test]
async fn with_a_certificate_the_server_speaks_https_to_a_client_that_trusts_it()
-> anyhow::Result<()> {
    let db = TestDb::sqlite()?;
    let demo = common::admin(&db.url, &["seed-demo"])?;
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])?;
    let cert_pem = certified.cert.pem();
    let (cert, key) = (db.dir().join("cert.pem"), db.dir().join("key.pem"));
    std::fs::write(&cert, &cert_pem)?;
    std::fs::write(&key, certified.signing_key.serialize_pem())?;

    let cert_arg = cert.display().to_string();
    let key_arg = key.display().to_string();
    let server = common::spawn(
        &db.url,
        &[
            "--workers",
            "0",
            "--tls-cert",
            &cert_arg,
            "--tls-key",
            &key_arg,
        ],
    )?;
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );

    // The generated client over a reqwest client that trusts the certificate.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-api-key",
        reqwest::header::HeaderValue::from_str(demo["api_key"].as_str().unwrap_or_default())?,
    );
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes())?)
        .default_headers(headers)
        .build()?;
    let client =
        feather_client::Client::new_with_client(&server.base_url, http, Default::default());
    let kb: uuid::Uuid = demo["kb_id"].as_str().unwrap_or_default().parse()?;
    let source: uuid::Uuid = demo["sources"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let status = feather_test_support::poll::status(&client, kb, source).await?;
    assert_eq!(status.source_status, "active");

    // A client that does not trust it is refused, and so is plain HTTP.
    let untrusting = reqwest::Client::new();
    assert!(
        untrusting
            .get(format!("{}/healthz", server.base_url))
            .send()
            .await
            .is_err()
    );
    let plain = format!("http://{}/healthz", server.addr);
    let answer = untrusting.get(plain).send().await;
    assert!(
        answer.map_or(true, |a| !a.status().is_success()),
        "plain HTTP must not be served"
    );
    Ok(())
}
