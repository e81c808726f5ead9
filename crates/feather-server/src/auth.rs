//! API keys: generation, hashing and request authentication.
//!
//! A key looks like `fth_` + 8 characters of lookup id + 32 characters of
//! secret, all alphanumeric (about 190 bits of secret). The database keeps the
//! id and the SHA-256 of the whole key, never the key; a request's key is
//! found by id and its hash compared in constant time. SHA-256 (not a slow
//! password hash) is right here because keys are long random secrets, not
//! guessable passwords.
//!
//! Verified keys are cached for [`CACHE_TTL`], so a revocation takes effect
//! within that time on every server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::store::{ApiKeyRecord, Store, StoreError, StoreResult};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "fth_";
/// Length of the public lookup id that follows the prefix.
const ID_LEN: usize = 8;
/// Length of the secret that follows the id.
const SECRET_LEN: usize = 32;
/// How long a verified key is trusted without asking the database.
pub const CACHE_TTL: Duration = Duration::from_millis(500);
/// The cache is dropped wholesale beyond this many keys (a bound, not an LRU:
/// real deployments have few keys, and a miss costs one indexed read).
const CACHE_CAPACITY: usize = 10_000;

/// SHA-256 of a whole key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The lookup id of a well-formed key, `None` for anything else.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    if rest.len() != ID_LEN + SECRET_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(&rest[..ID_LEN])
}

/// Creates a key for `org_id`, stores its hash and returns the key (the only
/// time it is ever available) with its record.
pub async fn issue_key(
    store: &dyn Store,
    org_id: Uuid,
    name: &str,
) -> StoreResult<(String, ApiKeyRecord)> {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(ID_LEN + SECRET_LEN)
        .map(char::from)
        .collect();
    let key = format!("{KEY_PREFIX}{random}");
    let id = &random[..ID_LEN];
    let record = store
        .create_api_key(org_id, id, name, &hash_key(&key))
        .await?;
    Ok((key, record))
}

/// Why a request was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, unknown or revoked key (HTTP 401).
    #[error("no valid API key")]
    Unauthenticated,
    /// The key could not be checked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks request keys against the store, with a short-lived cache of
/// verified key hashes.
pub struct Authenticator {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<[u8; 32], (Uuid, Instant)>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Authenticator {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The organization `presented` acts for.
    pub async fn authenticate(&self, presented: Option<&str>) -> Result<Uuid, AuthError> {
        let key = presented.ok_or(AuthError::Unauthenticated)?;
        let id = key_id(key).ok_or(AuthError::Unauthenticated)?;
        let hash = hash_key(key);
        if let Some(org_id) = self.cached(&hash) {
            return Ok(org_id);
        }
        let record = self
            .store
            .find_api_key(id)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        let matches: bool = record.key_hash.as_slice().ct_eq(hash.as_slice()).into();
        if !matches || record.revoked_at.is_some() {
            return Err(AuthError::Unauthenticated);
        }
        self.remember(hash, record.org_id);
        Ok(record.org_id)
    }

    fn cached(&self, hash: &[u8; 32]) -> Option<Uuid> {
        let cache = self.cache.lock().ok()?;
        let (org_id, at) = cache.get(hash)?;
        (at.elapsed() < CACHE_TTL).then_some(*org_id)
    }

    fn remember(&self, hash: [u8; 32], org_id: Uuid) {
        // A poisoned lock only means another request panicked mid-insert;
        // skipping the cache is always safe.
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(hash, (org_id, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_keys_have_an_id() {
        let key = format!("{KEY_PREFIX}abcd1234{}", "x".repeat(SECRET_LEN));
        assert_eq!(key_id(&key), Some("abcd1234"));
        assert_eq!(key_id("fth_short"), None);
        assert_eq!(key_id(&key.replace("fth_", "sk_")), None);
        let with_symbol = format!("{KEY_PREFIX}abcd1234{}-", "x".repeat(SECRET_LEN - 1));
        assert_eq!(key_id(&with_symbol), None);
        let multibyte = format!("{KEY_PREFIX}abcd123é{}", "x".repeat(SECRET_LEN - 1));
        assert_eq!(key_id(&multibyte), None);
    }

    #[tokio::test]
    async fn issued_keys_authenticate_until_revoked() -> anyhow::Result<()> {
        let store = crate::store::open("sqlite::memory:").await?;
        let org = store.create_organization("acme").await?;
        let (key, record) = issue_key(store.as_ref(), org.id, "ci").await?;
        assert!(key.starts_with(KEY_PREFIX) && key.len() == 44, "{key}");
        assert_eq!(key_id(&key), Some(record.id.as_str()));
        assert_ne!(record.key_hash, key.as_bytes(), "only the hash is stored");

        let auth = Authenticator::new(store.clone());
        assert_eq!(auth.authenticate(Some(&key)).await?, org.id);

        let mut forged = key.clone();
        forged.pop();
        forged.push(if key.ends_with('A') { 'B' } else { 'A' });
        assert!(matches!(
            auth.authenticate(Some(&forged)).await,
            Err(AuthError::Unauthenticated)
        ));
        assert!(matches!(
            auth.authenticate(None).await,
            Err(AuthError::Unauthenticated)
        ));

        assert!(store.revoke_api_key(&record.id).await?);
        tokio::time::sleep(CACHE_TTL + Duration::from_millis(50)).await;
        assert!(matches!(
            auth.authenticate(Some(&key)).await,
            Err(AuthError::Unauthenticated)
        ));
        Ok(())
    }
}
