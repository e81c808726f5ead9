//! A TCP proxy whose connections a test can cut at any moment: a database
//! connection lost in the middle of a transaction, on demand.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards connections from its own loopback port to `upstream`.
pub struct TcpProxy {
    /// Where clients connect instead of the upstream.
    pub addr: SocketAddr,
    cuts: Arc<watch::Sender<u64>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let cuts = Arc::new(watch::channel(0_u64).0);
        let accept_cuts = cuts.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut cut = accept_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                    // Both sockets close here, in whatever state the
                    // conversation was.
                });
            }
        });
        Ok(TcpProxy { addr, cuts, accept })
    }

    /// A proxy in front of the database server of `url` (`postgres://...`),
    /// and `url` with its host and port pointing at the proxy.
    pub async fn in_front_of(url: &str) -> anyhow::Result<(TcpProxy, String)> {
        let mut proxied = url::Url::parse(url)?;
        let host = proxied.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = proxied.port().unwrap_or(5432);
        let upstream = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{host}:{port} does not resolve"))?;
        let proxy = TcpProxy::start(upstream).await?;
        proxied
            .set_host(Some(&proxy.addr.ip().to_string()))
            .map_err(|e| anyhow::anyhow!("cannot set a host on {url}: {e}"))?;
        proxied
            .set_port(Some(proxy.addr.port()))
            .map_err(|()| anyhow::anyhow!("cannot set a port on {url}"))?;
        Ok((proxy, proxied.to_string()))
    }

    /// Closes every connection open now; later ones are forwarded again.
    pub fn cut(&self) {
        self.cuts.send_modify(|generation| *generation += 1);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
