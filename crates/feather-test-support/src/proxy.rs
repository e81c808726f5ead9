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
