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
    let upstream = {
        let url = url::Url::parse(&db.url)?;
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), url.port().unwrap_or(5432)))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("no address for {host}"))?
    };
    let proxy = TcpProxy::start(upstream).await?;
    let mut proxied = url::Url::parse(&db.url)?;
    proxied
        .set_port(Some(proxy.addr.port()))
        .map_err(|()| anyhow::anyhow!("cannot set the port"))?;
    let store = feather_server::store::open(proxied.as_str()).await?;
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
