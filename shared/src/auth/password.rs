//! bcrypt hashing and verification, off the async threads.

use std::sync::OnceLock;

use crate::error::ApiError;

/// A cost-12 bcrypt hash of a random string nobody knows: verified against when the
/// email is unknown, so that both cases take the same time.
const DUMMY_HASH_12: &str = "$2b$12$aOlsD1rdyftuhFsswNhGOeneWSyuAfxHwqmY/DoqXx..LUAbcYfG6";

/// Hashes a password with the given cost.
pub async fn hash(password: &str, cost: u32) -> Result<String, ApiError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Verifies a password against a stored hash, or against the dummy hash of `cost`
/// when there is none, which always fails.
pub async fn verify(password: &str, stored: Option<String>, cost: u32) -> Result<bool, ApiError> {
    let known = stored.is_some();
    let hash = match stored {
        Some(h) => h,
        None => dummy_hash(cost).await?,
    };
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .map_err(ApiError::internal)?;
    Ok(ok && known)
}

/// The dummy hash for a cost: the built-in one for 12, else made once per process.
async fn dummy_hash(cost: u32) -> Result<String, ApiError> {
    static OTHER: OnceLock<(u32, String)> = OnceLock::new();
    if cost == 12 {
        return Ok(DUMMY_HASH_12.to_owned());
    }
    if let Some((c, h)) = OTHER.get()
        && *c == cost
    {
        return Ok(h.clone());
    }
    let secret = format!("{:032x}", rand::random::<u128>());
    let h = hash(&secret, cost).await?;
    Ok(OTHER.get_or_init(|| (cost, h.clone())).1.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let h = hash("Passw0rd!", 4).await.unwrap();
        assert!(h.starts_with("$2b$04$"));
        assert!(verify("Passw0rd!", Some(h.clone()), 4).await.unwrap());
        assert!(!verify("wrong", Some(h), 4).await.unwrap());
        assert!(!verify("Passw0rd!", None, 4).await.unwrap());
    }

    /// The functions run a single-threaded runtime: while bcrypt works, that thread
    /// must stay free for other tasks (a hash on it would finish before they ran).
    #[tokio::test(flavor = "current_thread")]
    async fn bcrypt_leaves_the_single_thread_runtime_free() {
        let done = std::sync::atomic::AtomicBool::new(false);
        let hashing = async {
            let h = hash("Passw0rd!", 8).await.unwrap();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            h
        };
        let others = async {
            let mut turns = 0u64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                turns += 1;
                tokio::task::yield_now().await;
            }
            turns
        };
        let (h, turns) = tokio::join!(hashing, others);
        assert!(h.starts_with("$2b$08$"));
        assert!(
            turns > 100,
            "other tasks ran only {turns} times during a hash"
        );
    }

    #[test]
    fn dummy_hash_is_a_valid_cost_12_hash() {
        assert_eq!(bcrypt::verify("anything", DUMMY_HASH_12).ok(), Some(false));
        assert!(DUMMY_HASH_12.starts_with("$2b$12$"));
    }
}
