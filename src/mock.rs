//! Typed mocks for tests of code that uses the client (the `mock`
//! feature): progenitor's `httpmock` extension, generated from the same
//! document as the client. `MockServerExt` adds one method per operation to
//! [`httpmock::MockServer`]; its `when`/`then` take the operation's typed
//! parameters and bodies.
//!
//! ```
//! use feather_client::Client;
//! use feather_client::mock::MockServerExt as _;
//! use feather_client::types::SyncTriggerResponse;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = httpmock::MockServer::start_async().await;
//! let (kb_id, source_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
//! let job_id = uuid::Uuid::new_v4();
//! let trigger = server.trigger_sync(|when, then| {
//!     when.kb_id(&kb_id).source_id(&source_id);
//!     then.ok(&SyncTriggerResponse {
//!         job_id,
//!         status: "queued".into(),
//!         message: "Sync has been queued".into(),
//!     });
//! });
//! let client = Client::with_api_key(&server.base_url(), "fth_test")?;
//! let answer = client.trigger_sync().kb_id(kb_id).source_id(source_id).send().await?;
//! assert_eq!(answer.job_id, job_id);
//! trigger.assert();
//! # Ok(())
//! # }
//! ```

#![allow(missing_docs, clippy::all)] // generated

include!(concat!(env!("OUT_DIR"), "/feather_client_mock.rs"));
