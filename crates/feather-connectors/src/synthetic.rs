//! `synthetic`: N generated items, with an optional per-item delay and a
//! deterministic failure rate. The demo sources use it; so do tests and
//! benchmarks that need a sync of a known length.
//!
//! Config: `{"items": 20, "item_delay_ms": 50, "failure_rate": 0.2, "version": 0}`.
//! Which items fail depends only on the item index and `version`, so a
//! re-sync fails the same ones; changing `version` changes every item's text
//! (to exercise incremental re-syncs).

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::{Completion, Connector, ConnectorError, Event, Events, Item, ItemFailure, emit};

/// Most items one synthetic source may generate.
pub const MAX_ITEMS: u64 = 10_000_000;

/// The `synthetic` provider's config.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// How many items.
    #[serde(default = "default_items")]
    pub items: u64,
    /// Pause before each item, in milliseconds.
    #[serde(default)]
    pub item_delay_ms: u64,
    /// Fraction of items that fail, 0 to 1.
    #[serde(default)]
    pub failure_rate: f64,
    /// Content version; changing it changes every item's text.
    #[serde(default)]
    pub version: u64,
}

fn default_items() -> u64 {
    10
}

/// The `synthetic` connector.
#[derive(Clone, Debug)]
pub struct Synthetic {
    config: SyntheticConfig,
}

impl Synthetic {
    /// Validates `config`.
    pub fn from_config(config: &serde_json::Value) -> Result<Self, ConnectorError> {
        let config: SyntheticConfig = crate::parse_config("synthetic", config)?;
        let invalid = |message: String| ConnectorError::Config {
            provider: "synthetic".into(),
            message,
        };
        if config.items > MAX_ITEMS {
            return Err(invalid(format!("items must be at most {MAX_ITEMS}")));
        }
        if !(0.0..=1.0).contains(&config.failure_rate) {
            return Err(invalid("failure_rate must be between 0 and 1".into()));
        }
        Ok(Synthetic { config })
    }

    /// Whether item `index` fails (deterministic per index and version).
    pub fn fails(&self, index: u64) -> bool {
        let roll = splitmix64(index ^ self.config.version.rotate_left(32));
        (roll as f64 / u64::MAX as f64) < self.config.failure_rate
    }
}

/// A well-mixed 64-bit hash of `x` (SplitMix64's finalizer).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[async_trait]
impl Connector for Synthetic {
    async fn run(&self, events: Events) -> Result<Completion, ConnectorError> {
        emit(&events, Event::Total(self.config.items)).await?;
        let delay = Duration::from_millis(self.config.item_delay_ms);
        for index in 0..self.config.items {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let external_id = format!("synthetic-{index:07}");
            let event = if self.fails(index) {
                Event::Failed(ItemFailure {
                    external_id,
                    reason: "synthetic failure".into(),
                })
            } else {
                let text = format!(
                    "Synthetic item {index}, version {}. Lorem ipsum dolor sit amet.",
                    self.config.version
                );
                let size = text.len() as u64;
                Event::Item(Item::new(
                    external_id,
                    Some(format!("Item {index}")),
                    text,
                    size,
                ))
            };
            emit(&events, event).await?;
        }
        Ok(Completion { complete: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failure_rate_is_roughly_honoured_and_stable() -> Result<(), ConnectorError> {
        let s = Synthetic::from_config(&json!({"items": 10000, "failure_rate": 0.2}))?;
        let failed = (0..10_000).filter(|i| s.fails(*i)).count();
        assert!((1_800..2_200).contains(&failed), "{failed}");
        let again = Synthetic::from_config(&json!({"items": 10000, "failure_rate": 0.2}))?;
        assert!((0..10_000).all(|i| s.fails(i) == again.fails(i)));
        let none = Synthetic::from_config(&json!({"items": 10}))?;
        assert!((0..10_000).all(|i| !none.fails(i)));
        Ok(())
    }

    #[test]
    fn out_of_range_configs_are_rejected() {
        assert!(Synthetic::from_config(&json!({"failure_rate": 1.5})).is_err());
        assert!(Synthetic::from_config(&json!({"items": MAX_ITEMS + 1})).is_err());
        assert!(Synthetic::from_config(&json!({"itemz": 3})).is_err());
    }

    #[tokio::test]
    async fn emits_the_total_then_every_item() -> Result<(), ConnectorError> {
        let s = Synthetic::from_config(&json!({"items": 3}))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let done = s.run(tx).await?;
        assert!(done.complete);
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        assert_eq!(events.first(), Some(&Event::Total(3)));
        assert_eq!(events.len(), 4);
        Ok(())
    }
}
