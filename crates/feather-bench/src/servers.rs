//! Minimal hyper servers the benchmarks need: the ceiling (a fixed status
//! body, the fastest possible answer to the same request) and a loopback
//! website for the `url` connector to crawl.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `respond` over HTTP/1.1 keep-alive on `listener` until the task
/// is dropped.
async fn serve<F>(listener: TcpListener, respond: F)
where
    F: Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Clone + Send + Sync + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let respond = respond.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = respond(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The ceiling: answers every request with `body` as `application/json`.
pub async fn ceiling(listener: TcpListener, body: Bytes) {
    serve(listener, move |_| {
        let mut response = Response::new(Full::new(body.clone()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    })
    .await;
}

/// A website of `pages` HTML pages, `/p/0` to `/p/{pages-1}`: page n links
/// to pages 10n+1 to 10n+10 (a tree crawled breadth-first) and carries
/// about 2 KB of text.
pub async fn site(listener: TcpListener, pages: usize) {
    serve(listener, move |request| {
        let page = request
            .uri()
            .path()
            .strip_prefix("/p/")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n < pages);
        let Some(n) = page else {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        };
        let links: String = (10 * n + 1..=10 * n + 10)
            .filter(|child| *child < pages)
            .map(|child| format!("<li><a href=\"/p/{child}\">page {child}</a></li>"))
            .collect();
        let text = format!("Page {n} of the benchmark site. ").repeat(60);
        let html = format!(
            "<!doctype html><html><head><title>Page {n}</title></head>\
             <body><h1>Page {n}</h1><p>{text}</p><ul>{links}</ul></body></html>"
        );
        let mut response = Response::new(Full::new(Bytes::from(html)));
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    })
    .await;
}

/// Binds a loopback listener on a free port.
pub async fn loopback() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}
